package migrations_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/mhfz/mhfz-pipeline/internal/testenv"
	"github.com/mhfz/mhfz-pipeline/migrations"
)

// zenithRows are rows as the builds before the Zenith Skill column stored them: the skill in
// extra, alone or beside other keys, and rows without one. extra is as jsonb prints it (NULL:
// none), keyed by "table key", which is also the row's key.
var zenithRows = map[string]sql.NullString{
	"bow alone":              {String: `{"zenith_skill": "Skill Slots Up+1"}`, Valid: true},
	"bow beside":             {String: `{"length": "Long", "zenith_skill": "Test Skill Up+2"}`, Valid: true},
	"bow other":              {String: `{"length": "Short"}`, Valid: true},
	"bow none":               {},
	"partner_weapon alone":   {String: `{"zenith_skill": "Skill Slots Up+1"}`, Valid: true},
	"mhfz_rebuild.bow skill": {String: `{"zenith_skill": "Skill Slots Up+1", "sharpness_title": "010203"}`, Valid: true},
}

// TestZenithSkillMovesOutOfExtra: 00012 adds zenith_skill to every weapon table (and to the
// rebuilt tables of a re-processing in progress), moves the values stored in extra into it as
// the sink of this build stores them (an extra left empty is NULL), shows it in the
// <table>_current views and <table>_history functions (to mhfz_reader too); rolled back, extra
// holds exactly what it held before and the column is gone.
func TestZenithSkillMovesOutOfExtra(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p, db := provider(t, testenv.DatabaseURL(t))
	if _, err := p.UpTo(ctx, 11); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `CREATE SCHEMA mhfz_rebuild; CREATE TABLE mhfz_rebuild.bow (LIKE public.bow INCLUDING ALL)`); err != nil {
		t.Fatal(err)
	}
	for tk, extra := range zenithRows {
		table := tableOf(tk)
		kind := "ravi"
		if table == migrations.PartnerTable {
			kind = "partner"
		}
		if _, err := db.ExecContext(ctx, "INSERT INTO "+table+` (key, version, content_hash, weapon_type, page_kind, layout,
			page, url, row_id, hidden, scraped_at, kafka_topic, kafka_partition, kafka_offset, name, extra)
			VALUES ($1, 1, 'h', 'bow', $3, 'yumi', 'yumi_s.htm', 'u', $1, false, now(), 't', 0, 0, 'Bow', $2)`, tk, extra, kind); err != nil {
			t.Fatalf("insert %s: %v", tk, err)
		}
	}
	if _, err := p.UpTo(ctx, 12); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"bow alone": "Skill Slots Up+1 | NULL", "bow beside": `Test Skill Up+2 | {"length": "Long"}`,
		"bow other": `NULL | {"length": "Short"}`, "bow none": "NULL | NULL",
		"partner_weapon alone": "Skill Slots Up+1 | NULL", "mhfz_rebuild.bow skill": `Skill Slots Up+1 | {"sharpness_title": "010203"}`,
	}
	if got := zenithState(t, ctx, db, "%s"); !maps.Equal(got, want) {
		t.Errorf("after 00012, zenith_skill | extra:\n%v\nwant\n%v", got, want)
	}
	for tk := range want {
		if strings.HasPrefix(tk, "mhfz_rebuild.") {
			delete(want, tk) // the views of the rebuilt tables are made at the switch
		}
	}
	for _, from := range []string{"%s_current", "%s_history($1)"} {
		if got := zenithState(t, ctx, db, from); !maps.Equal(got, want) {
			t.Errorf("after 00012, zenith_skill | extra of %s:\n%v\nwant\n%v", from, got, want)
		}
	}
	var skill string
	if err := asReader(ctx, db, "SELECT zenith_skill FROM bow_current WHERE key = 'bow alone'", &skill); err != nil ||
		skill != "Skill Slots Up+1" {
		t.Errorf("mhfz_reader reading bow_current: %q (%v)", skill, err)
	}
	var latest int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM weapon_latest").Scan(&latest); err != nil || latest != 5 {
		t.Errorf("weapon_latest holds %d rows (%v) after the move, want the 5 of public", latest, err)
	}

	if _, err := p.DownTo(ctx, 11); err != nil {
		t.Fatal(err)
	}
	for tk, before := range zenithRows {
		table := tableOf(tk)
		var extra sql.NullString
		if err := db.QueryRowContext(ctx, "SELECT extra::text FROM "+table+" WHERE key = $1", tk).Scan(&extra); err != nil ||
			extra != before {
			t.Errorf("%s: extra %v (%v) after rolling 00012 back, want %v", tk, extra, err, before)
		}
	}
	for _, rel := range []string{"bow", "bow_current", "partner_weapon_current"} {
		var n int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM information_schema.columns
			WHERE table_schema = 'public' AND table_name = $1 AND column_name = 'zenith_skill'`, rel).Scan(&n); err != nil || n != 0 {
			t.Errorf("%s has %d zenith_skill columns (%v) after rolling 00012 back", rel, n, err)
		}
	}
}

// tableOf is the table of "table key" (possibly qualified); the rows' keys are the whole
// "table key", unique across tables as weapon_latest needs.
func tableOf(tk string) string {
	table, _, _ := strings.Cut(tk, " ")
	return table
}

// zenithState reads "zenith_skill | extra" of every row of zenithRows from the relation the
// format from gives for its table ("%s_current": the view; $1 is the key).
func zenithState(t *testing.T, ctx context.Context, db *sql.DB, from string) map[string]string {
	t.Helper()
	got := map[string]string{}
	for tk := range zenithRows {
		table := tableOf(tk)
		if from != "%s" && strings.HasPrefix(table, "mhfz_rebuild.") {
			continue
		}
		rel := fmt.Sprintf(from, table)
		var s string
		err := db.QueryRowContext(ctx, `SELECT coalesce(zenith_skill, 'NULL') || ' | ' || coalesce(extra::text, 'NULL')
			FROM `+rel+` w WHERE w.key = $1`, tk).Scan(&s)
		if err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		got[tk] = s
	}
	return got
}

// asReader runs query as mhfz_reader (00008), the role mhfz serve connects as.
func asReader(ctx context.Context, db *sql.DB, query string, dest any) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SET ROLE "+migrations.ReaderRole); err != nil {
		return err
	}
	err = conn.QueryRowContext(ctx, query).Scan(dest)
	if _, resetErr := conn.ExecContext(ctx, "RESET ROLE"); resetErr != nil {
		// The connection goes back to db's pool: it must not stay mhfz_reader.
		_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		return errors.Join(err, resetErr)
	}
	return err
}
