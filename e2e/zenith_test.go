package e2e

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mhfz/mhfz-pipeline/codecs"
	"github.com/mhfz/mhfz-pipeline/internal/testenv"
	"github.com/mhfz/mhfz-pipeline/migrations"
	"github.com/mhfz/mhfz-pipeline/processors/weaponrow"
)

// zenithTables are the tables whose Ravi pages the Zenith Skill test loads: one of each cell the
// skill is written under (a switch axe's sharpness, a light bowgun's ammo, a bow's charge stages).
var zenithTables = []string{"switch_axe_f", "light_bowgun", "bow"}

// zenithSkills is the number of weapon rows of the newest snapshot that show a Zenith Skill: the
// 22,000 of the Ravi pages (all "Skill Slots Up+1") and 1,585 Zenith weapons of the base pages,
// each row one skill.
const zenithSkills = 23585

// parseBeforeZenith is the build before the Zenith Skill had a field of its own: this build's
// parser with the skill put back into Extra, where those builds put it.
func parseBeforeZenith(raw *codecs.RawRecord) (*codecs.Weapon, error) {
	w, err := weaponrow.Parse(raw)
	if err != nil || w.ZenithSkill == "" {
		return w, err
	}
	if w.Extra == nil {
		w.Extra = map[string]string{}
	}
	w.Extra["zenith_skill"], w.ZenithSkill = w.ZenithSkill, ""
	return w, nil
}

// TestZenithSkillMigratedEqualsFreshBuild follows the Zenith Skill from the real pages to the
// tables (docs/adding-a-field.md). Every row of the newest snapshot that shows one gets it in
// Weapon.ZenithSkill. The Ravi rows of three weapon types go through two pipelines: one runs the
// build before the field, whose tables are then upgraded by migration 00012 (rolled back and
// applied again: the column comes back and the values move out of extra); the other runs this
// build on a fresh database. Both must give the same tables, row by row (content hashes and
// versions included) and the same weapon_latest, and every row with a skill has it in
// zenith_skill, none in extra.
func TestZenithSkillMigratedEqualsFreshBuild(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("-short: runs two pipelines over 13,400 rows")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	var recs []snapshotRecord
	withSkill, subsetWithSkill := 0, int64(0)
	for _, rec := range snapshotRecords(t, testenv.Newest) {
		if !bytes.Contains(rec.value, []byte("Zenith Skill")) {
			continue
		}
		raw, err := codecs.DecodeRaw(rec.value)
		if err != nil {
			t.Fatal(err)
		}
		w, err := weaponrow.Parse(raw)
		if err != nil || w.ZenithSkill == "" || w.Extra["zenith_skill"] != "" {
			t.Fatalf("%s shows a Zenith Skill: parsed %q, extra %q (%v); want it in ZenithSkill alone",
				rec.key, w.ZenithSkill, w.Extra["zenith_skill"], err)
		}
		withSkill++
	}
	if withSkill != zenithSkills {
		t.Errorf("%d rows of the newest snapshot have a Zenith Skill, want %d", withSkill, zenithSkills)
	}
	for _, rec := range snapshotRecords(t, testenv.Newest) {
		for _, table := range zenithTables {
			if strings.HasPrefix(rec.key, table+"/"+string(codecs.KindRavi)+"/") {
				recs = append(recs, rec)
				if bytes.Contains(rec.value, []byte("Zenith Skill")) {
					subsetWithSkill++
				}
			}
		}
	}
	t.Logf("%d rows of the newest snapshot have a Zenith Skill; %d of the %d Ravi rows loaded", withSkill, subsetWithSkill, len(recs))

	before := newDeployment(t, ctx, "zenith-before")
	fresh := newDeployment(t, ctx, "zenith-fresh")
	for _, run := range []struct {
		name  string
		d     *deployment
		parse func(*codecs.RawRecord) (*codecs.Weapon, error)
	}{{"before", before, parseBeforeZenith}, {"fresh", fresh, nil}} {
		r := run.d.start(ctx, run.parse, "zenith-"+run.name)
		run.d.emit(recs)
		run.d.waitStored(ctx, r)
		r.halt(t)
	}
	inExtra, inColumn := zenithCounts(ctx, before)
	if inExtra != subsetWithSkill || inColumn != 0 {
		t.Fatalf("the build before the field: %d rows with the skill in extra, %d in zenith_skill; want %d and 0",
			inExtra, inColumn, subsetWithSkill)
	}
	before.migrateDownUp(ctx, 11)

	for _, d := range []*deployment{before, fresh} {
		if inExtra, inColumn := zenithCounts(ctx, d); inExtra != 0 || inColumn != subsetWithSkill {
			t.Errorf("%s: %d rows with the skill in extra, %d in zenith_skill; want 0 and %d",
				d.names.Prefix, inExtra, inColumn, subsetWithSkill)
		}
	}
	for _, table := range append(slices.Clone(zenithTables), migrations.LatestTable) {
		na, da := before.dump(ctx, table)
		nb, db := fresh.dump(ctx, table)
		if na != nb || da != db {
			t.Errorf("table %s: migrated %d rows (digest %s), fresh %d rows (digest %s); first difference: %s",
				table, na, da, nb, db, firstDifference(ctx, before, fresh, table))
			continue
		}
		t.Logf("table %s: %d rows, identical", table, na)
	}
}

// zenithCounts counts the rows of zenithTables with a Zenith Skill in extra and in zenith_skill.
func zenithCounts(ctx context.Context, d *deployment) (inExtra, inColumn int64) {
	for _, table := range zenithTables {
		inExtra += d.count(ctx, "SELECT count(*) FROM "+table+" WHERE extra ? 'zenith_skill'")
		inColumn += d.count(ctx, "SELECT count(*) FROM "+table+" WHERE zenith_skill IS NOT NULL")
	}
	return inExtra, inColumn
}

// migrateDownUp rolls the deployment's database back to version and applies the migrations
// again: what a database that stayed at version, and is then upgraded, goes through.
func (d *deployment) migrateDownUp(ctx context.Context, version int64) {
	t := d.t
	p := migrationsOf(t, d.url)
	if _, err := p.DownTo(ctx, version); err != nil {
		t.Fatalf("migrate down to %d: %v", version, err)
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatalf("migrate up from %d: %v", version, err)
	}
}

// checkZenithSkills checks, on the tables of one scrape of the newest snapshot, that every row
// that shows a Zenith Skill has it in zenith_skill, and none in extra.
func checkZenithSkills(t *testing.T, ctx context.Context, conn *pgx.Conn) {
	t.Helper()
	var inColumn, inExtra int64
	for _, table := range migrations.WeaponTables() {
		var c, e int64
		err := conn.QueryRow(ctx, `SELECT count(zenith_skill), count(*) FILTER (WHERE extra ? 'zenith_skill') FROM `+
			pgx.Identifier{table}.Sanitize()).Scan(&c, &e)
		if err != nil {
			t.Fatalf("count the Zenith Skills of %s: %v", table, err)
		}
		inColumn, inExtra = inColumn+c, inExtra+e
	}
	if inColumn != zenithSkills || inExtra != 0 {
		t.Errorf("%d rows with a Zenith Skill in zenith_skill, %d in extra; want the snapshot's %d and 0", inColumn, inExtra, zenithSkills)
	}
}
