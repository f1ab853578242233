package e2e

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/mhfz/mhfz-pipeline/internal/kafka"
	"github.com/mhfz/mhfz-pipeline/internal/testenv"
	"github.com/mhfz/mhfz-pipeline/migrations"
)

// soakExpected is each key's content hash in the two snapshots, older first ("": not in it, or
// not a valid weapon there).
type soakExpected struct {
	hashes map[string][2]string
	err    error
}

func soakExpect(t testing.TB) soakExpected {
	if err := loadCorpus(t); err != nil {
		return soakExpected{err: err}
	}
	out := soakExpected{hashes: make(map[string][2]string, 2*corpusRows)}
	for i, snap := range []string{testenv.Older, testenv.Newest} {
		for _, rec := range corpusRecs[snap] {
			h := out.hashes[rec.key]
			h[i] = rec.exp.hash
			out.hashes[rec.key] = h
		}
	}
	return out
}

// soakVersions is what the tables must hold for one key after n completed scrapes, the older
// snapshot first: its contents in scrape order, a scrape without the key skipped and a
// content equal to the one before making no version. With the two snapshots alternating, the
// versions alternate: odd ones are h1, even ones h2. A key whose content differs between the
// snapshots has n versions, A, B, A, … (a change back is a new version, never a dropped one).
func soakVersions(h [2]string, n int) (versions int, h1, h2 string) {
	var seq []string
	for i := range n {
		if c := h[i%2]; c != "" && (len(seq) == 0 || seq[len(seq)-1] != c) {
			seq = append(seq, c)
		}
	}
	switch len(seq) {
	case 0:
		return 0, "", ""
	case 1:
		return 1, seq[0], ""
	}
	return len(seq), seq[0], seq[1]
}

// soakChecks are the checks of the tables, for the report: each a line and whether it holds.
type soakCheck struct {
	what string
	ok   bool
}

// checkTables checks the weapon tables against the completed scrapes: every key has exactly
// the versions the scrapes imply, numbered 1..n with no gap, (key, version) unique, each version
// the content of its scrape (so the latest is that of the last completed scrape), weapon_latest
// in step (it holds the last version of every key whose last version is not a level row),
// nothing dead-lettered and no conflict.
func (r *soakRun) checkTables(ctx context.Context, exp soakExpected) []soakCheck {
	t, conn := r.t, r.monitor
	n := len(r.successes)
	if n < 2 {
		t.Errorf("soak: %d completed scrapes; at least 2 are needed for a change and a change back", n)
	}
	if _, err := conn.Exec(ctx, `CREATE TEMP TABLE soak_expect (key text PRIMARY KEY, n bigint, h1 text, h2 text)`); err != nil {
		t.Fatal(err)
	}
	var rows [][]any
	byVersions := map[int]int{}
	for key, h := range exp.hashes {
		v, h1, h2 := soakVersions(h, n)
		if v > 0 {
			rows = append(rows, []any{key, int64(v), h1, h2})
			byVersions[v]++
		}
	}
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"soak_expect"}, []string{"key", "n", "h1", "h2"}, pgx.CopyFromRows(rows)); err != nil {
		t.Fatal(err)
	}
	var got struct{ keys, rows, unexpected, missing, wrong, dupContent, latestWrong int64 }
	err := conn.QueryRow(ctx, soakCheckQuery()).Scan(&got.keys, &got.rows, &got.unexpected, &got.missing,
		&got.wrong, &got.dupContent, &got.latestWrong)
	if err != nil {
		t.Fatalf("soak: check the tables: %v", err)
	}
	var wantRows int64
	for v, k := range byVersions {
		wantRows += int64(v * k)
	}
	dead := readDeadLetters(t, r.stack.brokers, kafka.Config("e2e-soak-dlq"), r.stack.names.DeadLetter())
	var sinkDead, conflicts int64
	_ = conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM `+migrations.DeadLetterTable+`), (SELECT count(*) FROM `+
		migrations.ConflictTable+`)`).Scan(&sinkDead, &conflicts)
	checks := []soakCheck{
		{fmt.Sprintf("%d completed scrapes (older snapshot first, alternating); %d failed or cut by a kill", n, r.failedScrapes), n >= 2},
		{fmt.Sprintf("keys stored: %d, want %d (versions per key: %s)", got.keys, len(rows), versionsLine(byVersions)), got.keys == int64(len(rows))},
		{fmt.Sprintf("rows stored: %d, want %d", got.rows, wantRows), got.rows == wantRows},
		{fmt.Sprintf("keys not in any snapshot: %d; keys missing: %d", got.unexpected, got.missing), got.unexpected == 0 && got.missing == 0},
		{fmt.Sprintf("keys whose versions are not 1..n with each version the content of its scrape: %d", got.wrong), got.wrong == 0},
		{fmt.Sprintf("versions equal to the version before (a duplicate): %d; (key, version) is the primary key", got.dupContent), got.dupContent == 0},
		{fmt.Sprintf("weapon_latest rows not at their key's last version (level rows left out, as it does): %d", got.latestWrong), got.latestWrong == 0},
		{fmt.Sprintf("dead letters: %d in weapon_data.dlq, %d in sink_dead_letter; conflicts: %d", len(dead), sinkDead, conflicts),
			len(dead) == 0 && sinkDead == 0 && conflicts == 0},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("soak: tables: %s", c.what)
		}
	}
	return checks
}

func versionsLine(byVersions map[int]int) string {
	var vs []int
	for v := range byVersions {
		vs = append(vs, v)
	}
	sort.Ints(vs)
	var parts []string
	for _, v := range vs {
		parts = append(parts, fmt.Sprintf("%d keys × %d", byVersions[v], v))
	}
	return strings.Join(parts, ", ")
}

// soakCheckQuery compares every weapon table with soak_expect in one pass.
func soakCheckQuery() string {
	var all []string
	for _, table := range migrations.WeaponTables() {
		all = append(all, "SELECT key, version, content_hash, hidden FROM "+pgx.Identifier{table}.Sanitize())
	}
	return `WITH a AS (` + strings.Join(all, " UNION ALL ") + `),
	prev AS (SELECT key, version, content_hash,
		lag(content_hash) OVER (PARTITION BY key ORDER BY version) AS before FROM a),
	g AS (SELECT a.key, count(*) AS n, min(a.version) AS minv, max(a.version) AS maxv,
		count(*) FILTER (WHERE a.content_hash IS DISTINCT FROM
			CASE WHEN a.version % 2 = 1 THEN x.h1 ELSE x.h2 END) AS bad
		FROM a LEFT JOIN soak_expect x USING (key) GROUP BY a.key)
	SELECT
		(SELECT count(*) FROM g),
		(SELECT count(*) FROM a),
		(SELECT count(*) FROM g WHERE NOT EXISTS (SELECT 1 FROM soak_expect x WHERE x.key = g.key)),
		(SELECT count(*) FROM soak_expect x WHERE NOT EXISTS (SELECT 1 FROM g WHERE g.key = x.key)),
		(SELECT count(*) FROM g JOIN soak_expect x USING (key)
			WHERE g.n <> x.n OR g.minv <> 1 OR g.maxv <> x.n OR g.bad > 0),
		(SELECT count(*) FROM prev WHERE before = content_hash),
		(SELECT count(*) FROM (SELECT DISTINCT ON (key) key, version, hidden FROM a ORDER BY key, version DESC) r
			FULL JOIN ` + migrations.LatestTable + ` l USING (key)
			WHERE r.key IS NULL OR (r.hidden AND l.key IS NOT NULL) OR (NOT r.hidden AND l.version IS DISTINCT FROM r.version))`
}
