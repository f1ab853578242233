package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/mhfz/mhfz-pipeline/internal/testenv"
)

// soakConfig is one soak run: how long the stack runs, how often it scrapes, kills a service
// and samples the services. Every field has an MHFZ_SOAK_* variable; the defaults are the
// 3-minute variant that `make test` runs (at least 2 scrape periods and 1 kill), `make soak`
// sets the hour.
type soakConfig struct {
	duration    time.Duration // MHFZ_SOAK_DURATION: stack under load, first start to the last scrape
	every       time.Duration // MHFZ_SOAK_EVERY: scrape --every
	killEvery   time.Duration // MHFZ_SOAK_KILL_EVERY: one SIGKILL of a random service this often
	sampleEvery time.Duration // MHFZ_SOAK_SAMPLE_EVERY: the series' sampling interval
	seed        uint64        // MHFZ_SOAK_SEED: which service each kill picks
	out         string        // MHFZ_SOAK_OUT: folder of soak.md, soak.svg and soak.csv ("": the test's)
	enforce     bool          // MHFZ_SOAK_ENFORCE: a series over its threshold fails the test
}

// The slopes of a few minutes are noise (a scrape in the middle of a sample moves resident memory
// by tens of MB): below this length the verdicts are reported, not enforced, unless asked.
const soakEnforceFrom = 30 * time.Minute

func soakConfigFromEnv(t *testing.T) soakConfig {
	t.Helper()
	c := soakConfig{duration: 3 * time.Minute, every: 30 * time.Second, killEvery: 70 * time.Second,
		sampleEvery: 10 * time.Second, seed: uint64(time.Now().UnixNano())}
	for _, d := range []struct {
		env string
		v   *time.Duration
	}{{"MHFZ_SOAK_DURATION", &c.duration}, {"MHFZ_SOAK_EVERY", &c.every},
		{"MHFZ_SOAK_KILL_EVERY", &c.killEvery}, {"MHFZ_SOAK_SAMPLE_EVERY", &c.sampleEvery}} {
		if s := os.Getenv(d.env); s != "" {
			v, err := time.ParseDuration(s)
			if err != nil || v <= 0 {
				t.Fatalf("%s=%q: want a positive duration such as 60m", d.env, s)
			}
			*d.v = v
		}
	}
	if s := os.Getenv("MHFZ_SOAK_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("MHFZ_SOAK_SEED=%q: want an unsigned integer", s)
		}
		c.seed = v
	}
	c.out = os.Getenv("MHFZ_SOAK_OUT")
	if c.out == "" {
		c.out = t.TempDir()
	} else if err := os.MkdirAll(c.out, 0o755); err != nil {
		t.Fatal(err)
	}
	c.enforce = c.duration >= soakEnforceFrom || os.Getenv("MHFZ_SOAK_ENFORCE") == "1"
	return c
}

// TestSoak runs the stack as processes (scrape --every, process, sink) over a mirror that
// alternates the two snapshots at every completed scrape, so that every period stores tens of
// thousands of new versions and the next one changes them back; one random service is killed
// (SIGKILL) and restarted every killEvery. Each sampleEvery it records, per service, resident
// memory, goroutines, open files, PostgreSQL connections and lag, and the goka table's storage,
// Kafka's and PostgreSQL's sizes. At the end: a verdict per series (soak_verdict_test.go), the
// tables checked against the periods (soak_check_test.go), a plot (soak_plot_test.go).
//
//	make soak     # the hour: MHFZ_SOAK_DURATION=60m MHFZ_SOAK_EVERY=3m MHFZ_SOAK_KILL_EVERY=6m, figures in MHFZ_SOAK_OUT
func TestSoak(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("the stack under kills for minutes: not in -short")
	}
	cfg := soakConfigFromEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), cfg.duration+30*time.Minute)
	defer cancel()
	t.Logf("soak: %s, scrape every %s, a kill every %s, samples every %s, seed %d, figures in %s",
		cfg.duration, cfg.every, cfg.killEvery, cfg.sampleEvery, cfg.seed, cfg.out)
	older, newest := testenv.Snapshot(t, testenv.Older), testenv.Snapshot(t, testenv.Newest)
	// What the tables must hold is computed beside the run (about 15 s of CPU, at the start,
	// in the part of the run the verdicts leave out).
	expectCh := make(chan soakExpected, 1)
	go func() { expectCh <- soakExpect(t) }()
	r := newSoakRun(t, ctx, cfg, newSoakMirror(t, older, newest))
	r.run(ctx)
	r.finish(ctx)
	exp := <-expectCh
	if exp.err != nil {
		t.Fatal(exp.err)
	}
	checks := r.checkTables(ctx, exp)
	r.samples = append(r.samples, soakAdded(r.samples)...)
	verdicts := soakVerdicts(r)
	r.report(verdicts, checks)
	for _, v := range verdicts {
		if v.fail && cfg.enforce {
			t.Errorf("soak: %s of %s: slope %.3g ± %.3g %s/h, above the threshold %.3g", v.series, v.service, v.slope, v.se, v.unit, v.threshold)
		}
	}
}

// run drives the stack until the duration is over: every second it follows the scrapes (the
// mirror switches after each completed one), and at their times samples and kills.
func (r *soakRun) run(ctx context.Context) {
	rng := rand.New(rand.NewPCG(r.cfg.seed, 0))
	nextKill := r.cfg.killEvery
	for ctx.Err() == nil {
		now := time.Since(r.start)
		if now >= r.cfg.duration {
			return
		}
		r.followScrapes()
		r.restartExited()
		r.watchCatchUp(ctx)
		r.sampleIfDue(ctx)
		if now >= nextKill {
			r.killOne(rng)
			nextKill += r.cfg.killEvery
		}
		time.Sleep(time.Second)
	}
}

// sampleIfDue samples at the sampling interval; a sample late by a slow round (a loaded
// machine) moves the next ones rather than bunching them.
func (r *soakRun) sampleIfDue(ctx context.Context) {
	now := time.Since(r.start)
	if now < r.nextSample {
		return
	}
	r.sample(ctx, now)
	for r.nextSample <= now {
		r.nextSample += r.cfg.sampleEvery
	}
}

// killOne kills a random service with SIGKILL and starts it again at once, as a supervisor
// would. A killed scraper's log is read to its end first, so that a scrape it finished just
// before dying switches the mirror before its successor's first scrape.
func (r *soakRun) killOne(rng *rand.Rand) {
	svc := r.services[rng.IntN(len(r.services))]
	svc.cur.kill()
	at := time.Since(r.start)
	r.kills = append(r.kills, soakKill{at: at, service: svc.name})
	r.t.Logf("soak %s: killed %s (pid %d)", fmtMinutes(at), svc.name, svc.cur.cmd.Process.Pid)
	if svc == r.scraper {
		r.followScrapes()
	}
	svc.start(r)
}

// restartExited starts again a service that exited by itself (a crash: a finding, counted).
func (r *soakRun) restartExited() {
	for _, svc := range r.services {
		if !svc.done && exited(svc.cur) {
			err := <-svc.cur.done
			svc.cur.done <- err
			r.crashes = append(r.crashes, fmt.Sprintf("%s exited by itself at %s: %v", svc.name, fmtMinutes(time.Since(r.start)), err))
			r.t.Logf("soak: %s", r.crashes[len(r.crashes)-1])
			if svc == r.scraper {
				r.followScrapes()
			}
			svc.start(r)
		}
	}
}

// finish ends the run where the tables have a known content: it waits until the scraper is
// between two scrapes, then refuses every request of the mirror (a scrape starting now reads
// nothing), stops the scraper, waits until the processor and the sink have caught up, samples
// once more and stops them (SIGTERM: each must exit cleanly).
func (r *soakRun) finish(ctx context.Context) {
	t := r.t
	deadline := time.Now().Add(2*r.cfg.every + 10*time.Minute)
	for {
		r.followScrapes()
		// Two completed scrapes at least (a change and a change back), even on a machine too
		// loaded for them to fit in the duration.
		if last := r.lastSuccess(); len(r.successes) >= 2 && r.mirror.freezeIfIdleSince(last) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("soak: the scraper never finished a scrape after the end of the run")
		}
		r.restartExited()
		r.sampleIfDue(ctx)
		time.Sleep(200 * time.Millisecond)
	}
	r.scraper.done = true
	if err := r.scraper.cur.stop(); err != nil {
		t.Errorf("soak: stop the scraper: %v", err)
	}
	r.followScrapes()
	r.waitCaughtUp(ctx, 10*time.Minute)
	r.ended = time.Since(r.start)
	if r.watching > 0 {
		c := &r.catchUps[r.watching-1]
		c.took = r.ended - c.at
	}
	r.sample(ctx, r.ended)
	for _, c := range r.catchUps {
		if c.took > 0 {
			r.samples = append(r.samples, soakSample{at: c.at, series: seriesCatchUp, service: "stack", value: c.took.Seconds()})
		}
	}
	for _, svc := range []*soakService{r.processor, r.sink} {
		svc.done = true
		if err := svc.cur.stop(); err != nil {
			t.Errorf("soak: stop %s: %v", svc.name, err)
		}
	}
	t.Logf("soak: %d scrapes completed (%d failed or cut by a kill), %d kills, caught up at %s",
		len(r.successes), r.failedScrapes, len(r.kills), fmtMinutes(r.ended))
}

// waitCaughtUp waits until the processor and the sink have caught up, sampling meanwhile.
func (r *soakRun) waitCaughtUp(ctx context.Context, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for {
		_ = r.client.RefreshMetadata()
		if ok, err := r.stack.caughtUp(ctx, r.client, r.admin); err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("soak: the pipeline did not catch up within %s of the scraper's stop", timeout)
		}
		r.restartExited()
		r.sampleIfDue(ctx)
		time.Sleep(time.Second)
	}
}

func fmtMinutes(d time.Duration) string { return fmt.Sprintf("%.1f min", d.Minutes()) }
