package bundle

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/google/renameio/v2"
	"github.com/jackc/pgx/v5/pgxpool"
)

// buildingPrefix begins the name of a version's folder while it is written: a folder left by a
// publisher that was killed is removed when the next one starts.
const buildingPrefix = ".building-"

// versionName is what a version looks like: the first 16 hex digits of a SHA-256.
var versionName = regexp.MustCompile(`^[0-9a-f]{16}$`)

// Run waits for PostgreSQL, then publishes a version of the dataset into Out, once and then
// every Every, until ctx ends (Every 0: once, then it returns). A publication whose data
// version is the latest one's writes nothing. A failed publication leaves Out as it was (its
// error is returned when Every is 0, else logged and the next period tries again). A stop
// during a publication abandons it and returns nil.
func (p *Publisher) Run(ctx context.Context) error {
	if err := os.MkdirAll(p.cfg.Out, 0o755); err != nil {
		return fmt.Errorf("create the folder of the downloads: %w", err)
	}
	p.removeLeftovers()
	db, err := p.connect(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	for {
		err := p.awaitSettled(ctx, db)
		if err == nil {
			_, err = p.publish(ctx, db)
		}
		p.report(err)
		switch {
		case ctx.Err() != nil:
			p.cfg.Logger.Info("stopped", "published", p.Summary().Published)
			return nil
		case err != nil && p.cfg.Every == 0:
			return err
		case err != nil:
			p.cfg.Logger.Error("publication failed; the next one is due after --every", "err", err, "every", p.cfg.Every)
		}
		if p.cfg.Every == 0 {
			return nil
		}
		t := time.NewTimer(p.cfg.Every)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// awaitSettled returns once the data's version has stayed the same for Settle (at once when
// publishing once, or with Settle 0), saying while it waits that the data is still changing.
func (p *Publisher) awaitSettled(ctx context.Context, db *pgxpool.Pool) error {
	if p.cfg.Every == 0 || p.cfg.Settle == 0 {
		return nil
	}
	last, err := dataVersion(ctx, db)
	for err == nil {
		t := time.NewTimer(p.cfg.Settle)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		var now string
		if now, err = dataVersion(ctx, db); err == nil && now == last {
			return nil
		}
		p.cfg.Logger.Info("the data is changing: publishing once it has stayed the same for --settle", "settle", p.cfg.Settle)
		last = now
	}
	return err
}

// dataVersion is the stored data's version (migration 00015), which every commit of the sink
// and every switch of a re-processing changes.
func dataVersion(ctx context.Context, db *pgxpool.Pool) (string, error) {
	var v string
	if err := db.QueryRow(ctx, "SELECT version FROM mhfz_data_version()").Scan(&v); err != nil {
		return "", fmt.Errorf("read the data's version: %w", err)
	}
	return v, nil
}

// publish writes one version into Out, unless the latest has the same data version; it returns
// whether it wrote one.
func (p *Publisher) publish(ctx context.Context, db *pgxpool.Pool) (bool, error) {
	defer p.watchdog.Start("a publication")()
	start := time.Now()
	if m, err := p.unchanged(ctx, db); err != nil || m != nil {
		if m != nil {
			p.done(m, false, time.Since(start))
		}
		return false, err
	}
	tmp, err := os.MkdirTemp(p.cfg.Out, buildingPrefix)
	if err != nil {
		return false, fmt.Errorf("create a folder to build in: %w", err)
	}
	defer os.RemoveAll(tmp) // nothing left once moved into place
	m, err := build(ctx, db, tmp, Formats(), p.cfg.Now(), p.progress)
	if err != nil {
		return false, fmt.Errorf("build the files: %w", err)
	}
	latest, err := ReadLatest(p.cfg.Out)
	if err != nil {
		return false, err
	}
	wrote := latest != m.Version
	if wrote {
		if err := p.place(tmp, m); err != nil {
			return false, err
		}
	}
	if err := p.prune(m.Version); err != nil {
		p.cfg.Logger.Warn("could not remove old versions", "err", err)
	}
	p.done(m, wrote, time.Since(start))
	return wrote, nil
}

// unchanged returns the latest version's manifest if the tables' fingerprint is the one it was
// written from (nil if not, or if there is no latest version yet).
func (p *Publisher) unchanged(ctx context.Context, db *pgxpool.Pool) (*Manifest, error) {
	latest, err := ReadLatest(p.cfg.Out)
	if err != nil || latest == "" {
		return nil, err
	}
	m, err := ReadManifest(filepath.Join(p.cfg.Out, latest))
	if err != nil {
		p.cfg.Logger.Warn("the latest version has no manifest: publishing again", "version", latest, "err", err)
		return nil, nil
	}
	fp, err := fingerprint(ctx, db)
	if err != nil || fp != m.Fingerprint {
		return nil, err
	}
	return m, nil
}

// place moves a built version into Out (unless a folder of that version is there already: the
// data went back to what it was), then points latest at it, durably.
func (p *Publisher) place(tmp string, m *Manifest) error {
	final := filepath.Join(p.cfg.Out, m.Version)
	if st, err := os.Stat(final); err != nil || !st.IsDir() {
		if err := m.write(tmp); err != nil {
			return err
		}
		if err := syncDir(tmp); err != nil {
			return err
		}
		if err := os.Chmod(tmp, 0o755); err != nil {
			return fmt.Errorf("open the version's folder to readers: %w", err)
		}
		if err := os.Rename(tmp, final); err != nil {
			return fmt.Errorf("move the version %s into place: %w", m.Version, err)
		}
		if err := syncDir(p.cfg.Out); err != nil {
			return err
		}
	}
	if err := renameio.WriteFile(filepath.Join(p.cfg.Out, LatestName), []byte(m.Version+"\n"), 0o644); err != nil {
		return fmt.Errorf("point latest at %s: %w", m.Version, err)
	}
	return nil
}

func (p *Publisher) progress(table string, rows, current int64) {
	p.cfg.Logger.Debug("table read", "table", table, "rows", rows, "current", current)
}

func (p *Publisher) done(m *Manifest, wrote bool, took time.Duration) {
	var size int64
	for _, f := range m.Files {
		size += f.Size
	}
	p.mu.Lock()
	if wrote {
		p.summary.Published++
	} else {
		p.summary.Unchanged++
	}
	p.summary.Version, p.summary.Took, p.summary.Files, p.summary.Bytes = m.Version, took, len(m.Files), size
	p.mu.Unlock()
	if wrote {
		p.cfg.Logger.Info("published", "version", m.Version, "files", len(m.Files), "bytes", size, "took", took.Round(time.Millisecond))
	} else {
		p.cfg.Logger.Info("unchanged: the latest version holds this data", "version", m.Version, "took", took.Round(time.Millisecond))
	}
}

// prune removes the versions beyond the Keep newest (by their manifests' created_at); latest is
// always kept.
func (p *Publisher) prune(latest string) error {
	entries, err := os.ReadDir(p.cfg.Out)
	if err != nil {
		return err
	}
	type version struct {
		name    string
		created time.Time
	}
	var vs []version
	for _, e := range entries {
		if !e.IsDir() || !versionName.MatchString(e.Name()) || e.Name() == latest {
			continue
		}
		m, err := ReadManifest(filepath.Join(p.cfg.Out, e.Name()))
		if err != nil {
			continue // not one of ours, or not whole: left alone
		}
		vs = append(vs, version{e.Name(), m.CreatedAt})
	}
	slices.SortFunc(vs, func(a, b version) int { return b.created.Compare(a.created) })
	var errs []error
	for i, v := range vs {
		if i+1 < p.cfg.Keep { // latest is the first kept
			continue
		}
		p.cfg.Logger.Info("removing an old version", "version", v.name, "created_at", v.created)
		errs = append(errs, os.RemoveAll(filepath.Join(p.cfg.Out, v.name)))
	}
	return errors.Join(errs...)
}

// removeLeftovers removes the folders of publications that never finished.
func (p *Publisher) removeLeftovers() {
	entries, _ := os.ReadDir(p.cfg.Out)
	for _, e := range entries {
		if e.IsDir() && strings.HasPrefix(e.Name(), buildingPrefix) {
			p.cfg.Logger.Info("removing an unfinished publication", "folder", e.Name())
			_ = os.RemoveAll(filepath.Join(p.cfg.Out, e.Name()))
		}
	}
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync the folder %s: %w", dir, err)
	}
	return nil
}

// Export waits for PostgreSQL, then writes the files of Formats (and their manifest.json) into
// Out, with their versioned names; files of the same names there are replaced. It returns
// their manifest. progress, if not nil, hears of each table read.
func (p *Publisher) Export(ctx context.Context, progress func(table string, rows, current int64)) (*Manifest, error) {
	if err := os.MkdirAll(p.cfg.Out, 0o755); err != nil {
		return nil, fmt.Errorf("create the folder %s: %w", p.cfg.Out, err)
	}
	db, err := p.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	tmp, err := os.MkdirTemp(p.cfg.Out, buildingPrefix)
	if err != nil {
		return nil, fmt.Errorf("create a folder to build in: %w", err)
	}
	defer os.RemoveAll(tmp)
	m, err := build(ctx, db, tmp, p.cfg.Formats, p.cfg.Now(), progress)
	if err != nil {
		return nil, fmt.Errorf("build the files: %w", err)
	}
	if err := m.write(tmp); err != nil {
		return nil, err
	}
	for _, name := range append(fileNames(m), ManifestName) {
		if err := os.Rename(filepath.Join(tmp, name), filepath.Join(p.cfg.Out, name)); err != nil {
			return nil, fmt.Errorf("move %s into %s: %w", name, p.cfg.Out, err)
		}
	}
	return m, syncDir(p.cfg.Out)
}

func fileNames(m *Manifest) []string {
	out := make([]string, len(m.Files))
	for i, f := range m.Files {
		out[i] = f.Name
	}
	return out
}
