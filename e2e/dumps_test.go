package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mhfz/mhfz-pipeline/internal/testenv"
	"github.com/mhfz/mhfz-pipeline/migrations"
)

// dumpsFile holds the row count and the SHA-256 of the canonical dump of every dumped table in
// every state of TestTableDumpsUnchanged, as the build that wrote it stored them.
const dumpsFile = "testdata/table-dumps.tsv"

// dumpExcluded are the columns left out of the dumps: those whose values depend on the run, not
// on the pages. Every other column is dumped, a column added later included.
//   - scraped_at: the scraper's clock when it read the page.
//   - kafka_topic, consumer: named with the deployment's topic prefix (unique per test run).
//   - kafka_partition, kafka_offset: where the processor's output (or, in sink_dead_letter and
//     sink_conflict, the incoming message) landed; the offsets depend on how the processor's and
//     the scraper's workers interleave.
//   - source: the same for the raw record on weapon_data ({"topic", "partition", "offset"}).
//   - failed_at, detected_at: the sink's clock.
//
// The url column is kept without its host (dumpRewritten).
//
// No table has a serial id. content_hash and version are kept: they depend on the pages only,
// and a build that hashed or numbered differently would give every weapon a new version at the
// next scrape of a deployment that ran the build before. The value of sink_dead_letter and
// sink_conflict is a message's bytes as they travelled: both tables are empty after a clean run,
// and any row there is a difference worth seeing.
var dumpExcluded = map[string]bool{
	"scraped_at": true, "kafka_topic": true, "consumer": true, "kafka_partition": true,
	"kafka_offset": true, "source": true, "failed_at": true, "detected_at": true,
}

// dumpRewritten are the columns dumped as an expression of them: url is the page's address on
// the test's mirror, a loopback port of its own at each run; its scheme and host are replaced by
// http://mirror/, and the path stays.
var dumpRewritten = map[string]string{
	"url": `regexp_replace(url, '^[a-z]+://[^/]+/', 'http://mirror/')`,
}

// dumpedTables are the tables compared: the 15 weapon tables, weapon_latest (kept by their
// triggers), and the sink's dead letters and conflicts (what it could not store).
func dumpedTables() []string {
	return append(migrations.WeaponTables(), migrations.LatestTable, migrations.DeadLetterTable, migrations.ConflictTable)
}

// tableDump is one table's canonical dump in one state.
type tableDump struct {
	rows   int64
	sha256 string
}

// TestTableDumpsUnchanged runs the real binaries (scrape of a mirror of the pages, process,
// sink) on topics and databases of their own, and compares a canonical dump of every table with
// the one in testdata/table-dumps.tsv: the stored output must stay byte for byte the same
// through a change of how the records travel (their format, codecs, compression, the sink's
// decoding). Two states, each on a stack of its own, both run at once:
//   - newest: the newest snapshot scraped into empty tables: every weapon's version 1;
//   - older-then-newest: the older snapshot, then the newest, as the site's history went: the
//     versions 2 of what changed, the keys that appeared, and the flagged rows of the older one.
//
// The newest snapshot over the older one's tables is not the newest alone (its versions differ),
// so the second state needs its own stack; a third scrape (the newest again) would store nothing.
//
// Each dump is PostgreSQL's COPY text of the table without the columns of dumpExcluded, in the
// order of all its columns. MHFZ_UPDATE_DUMPS=1 writes the reference file anew (after an
// intended change of the output); MHFZ_DUMP_DIR=DIR writes each dump to DIR/STATE-TABLE.copy, to
// diff with the dumps of another build.
func TestTableDumpsUnchanged(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("three snapshots through the whole stack: not in -short")
	}
	newest, older := testenv.Snapshot(t, testenv.Newest), testenv.Snapshot(t, testenv.Older)
	update := os.Getenv("MHFZ_UPDATE_DUMPS") == "1"
	want := map[string]tableDump{}
	if !update {
		want = readDumpsFile(t)
	}
	var mu sync.Mutex
	got := map[string]tableDump{}
	t.Cleanup(func() {
		if update && !t.Failed() {
			writeDumpsFile(t, got)
		}
	})
	for _, state := range []struct {
		name      string
		snapshots []string
	}{
		{"newest", []string{newest}},
		{"older-then-newest", []string{older, newest}},
	} {
		t.Run(state.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
			defer cancel()
			start := time.Now()
			s := newStack(t)
			s.start(ctx)
			for _, buki := range state.snapshots {
				s.scrape(ctx, mirror(t, buki))
				s.waitCaughtUp(ctx, 10*time.Minute)
			}
			t.Logf("%s stored in %s", state.name, time.Since(start).Round(time.Second))
			dumps := dumpTables(t, ctx, s.dbURL, state.name)
			mu.Lock()
			defer mu.Unlock()
			for table, d := range dumps {
				got[state.name+"\t"+table] = d
			}
			if !update {
				compareDumps(t, state.name, want, dumps)
			}
		})
	}
}

// compareDumps fails the test for each table of state whose dump is not the reference's.
func compareDumps(t *testing.T, state string, want, got map[string]tableDump) {
	t.Helper()
	dir := os.Getenv("MHFZ_DUMP_DIR")
	for _, table := range dumpedTables() {
		w, ok := want[state+"\t"+table]
		g := got[table]
		switch {
		case !ok:
			t.Errorf("state %s, table %s: not in %s (%d rows, sha256 %s): run with MHFZ_UPDATE_DUMPS=1 if the table is new",
				state, table, dumpsFile, g.rows, g.sha256)
		case g != w:
			where := "set MHFZ_DUMP_DIR=DIR to have the dumps written to DIR/STATE-TABLE.copy, and diff them with those of the build before"
			if dir != "" {
				where = fmt.Sprintf("the dump is %s: diff it with the build before's", dumpPath(dir, state, table))
			}
			t.Errorf("state %s, table %s: %d rows (sha256 %s), want %d rows (sha256 %s) as in %s; %s; "+
				"after an intended change of the output, run with MHFZ_UPDATE_DUMPS=1",
				state, table, g.rows, g.sha256, w.rows, w.sha256, dumpsFile, where)
		}
	}
}

// dumpTables dumps every table of dumpedTables in the database at url, and writes the dumps to
// $MHFZ_DUMP_DIR when it is set.
func dumpTables(t *testing.T, ctx context.Context, url, state string) map[string]tableDump {
	t.Helper()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	dir := os.Getenv("MHFZ_DUMP_DIR")
	if dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	out := map[string]tableDump{}
	for _, table := range dumpedTables() {
		query, err := dumpQuery(ctx, conn, table)
		if err != nil {
			t.Fatalf("dump %s: %v", table, err)
		}
		var buf bytes.Buffer
		if _, err := conn.PgConn().CopyTo(ctx, &buf, query); err != nil {
			t.Fatalf("dump %s: %s: %v", table, query, err)
		}
		sum := sha256.Sum256(buf.Bytes())
		// COPY's text format escapes a newline within a value: one line per row.
		out[table] = tableDump{rows: int64(bytes.Count(buf.Bytes(), []byte("\n"))), sha256: hex.EncodeToString(sum[:])}
		if dir != "" {
			if err := os.WriteFile(dumpPath(dir, state, table), buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return out
}

func dumpPath(dir, state, table string) string {
	return filepath.Join(dir, state+"-"+table+".copy")
}

// dumpQuery is the COPY of table's columns but dumpExcluded (those of dumpRewritten rewritten),
// in their order in the table, rows ordered by every column in that order (text in the C
// collation, the same on every server).
func dumpQuery(ctx context.Context, conn *pgx.Conn, table string) (string, error) {
	rows, err := conn.Query(ctx, `SELECT column_name, data_type FROM information_schema.columns
		WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position`, table)
	if err != nil {
		return "", err
	}
	var cols, order []string
	var name, typ string
	_, err = pgx.ForEachRow(rows, []any{&name, &typ}, func() error {
		if dumpExcluded[name] {
			return nil
		}
		col := pgx.Identifier{name}.Sanitize()
		if expr, ok := dumpRewritten[name]; ok {
			col = expr
		}
		cols = append(cols, col)
		if typ == "text" {
			col += ` COLLATE "C"`
		}
		order = append(order, col)
		return nil
	})
	if err != nil {
		return "", err
	}
	if len(cols) == 0 {
		return "", fmt.Errorf("no table %s", table)
	}
	return fmt.Sprintf("COPY (SELECT %s FROM %s ORDER BY %s) TO STDOUT", strings.Join(cols, ", "),
		pgx.Identifier{table}.Sanitize(), strings.Join(order, ", ")), nil
}

// readDumpsFile reads dumpsFile: a header, then one line per state and table.
func readDumpsFile(t *testing.T) map[string]tableDump {
	t.Helper()
	f, err := os.Open(dumpsFile)
	if err != nil {
		t.Fatalf("%v: run with MHFZ_UPDATE_DUMPS=1 to write it", err)
	}
	defer f.Close()
	out := map[string]tableDump{}
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		fields := strings.Split(sc.Text(), "\t")
		if line == 1 {
			continue // the header
		}
		var n int64
		if len(fields) == 4 {
			n, err = strconv.ParseInt(fields[2], 10, 64)
		}
		if len(fields) != 4 || err != nil {
			t.Fatalf("%s:%d: want state, table, rows, sha256 separated by tabs, got %q", dumpsFile, line, sc.Text())
		}
		out[fields[0]+"\t"+fields[1]] = tableDump{rows: n, sha256: fields[3]}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// writeDumpsFile writes got (by "state\ttable") to dumpsFile, sorted.
func writeDumpsFile(t *testing.T, got map[string]tableDump) {
	keys := make([]string, 0, len(got))
	for k := range got {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	b.WriteString("state\ttable\trows\tsha256\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "%s\t%d\t%s\n", k, got[k].rows, got[k].sha256)
	}
	if err := os.WriteFile(dumpsFile, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s: %d dumps", dumpsFile, len(keys))
}
