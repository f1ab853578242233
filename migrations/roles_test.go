package migrations_test

import (
	"context"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/mhfz/mhfz-pipeline/internal/testenv"
	"github.com/mhfz/mhfz-pipeline/migrations"
)

// migratedAs migrates a fresh database and returns its owner's URL and a connection as role
// (scripts/testenv's server trusts loopback connections: no password).
func migratedAs(t *testing.T, ctx context.Context, role string) (string, *pgx.Conn) {
	t.Helper()
	dbURL := testenv.DatabaseURL(t)
	p, _ := provider(t, dbURL)
	if _, err := p.Up(ctx); err != nil {
		t.Fatal(err)
	}
	return dbURL, connectAs(t, ctx, dbURL, role)
}

func connectAs(t *testing.T, ctx context.Context, dbURL, role string) *pgx.Conn {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(role)
	conn, err := pgx.Connect(ctx, u.String())
	if err != nil {
		t.Fatalf("connect as %s: %v", role, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func execOwner(t *testing.T, ctx context.Context, dbURL string, stmts ...string) {
	t.Helper()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, s := range stmts {
		if _, err := conn.Exec(ctx, s); err != nil {
			t.Fatalf("as the owner: %s: %v", s, err)
		}
	}
}

// denied runs each statement in a transaction rolled back, and wants PostgreSQL's refusal for
// want of a privilege (or of ownership: the same SQLSTATE).
func denied(t *testing.T, ctx context.Context, conn *pgx.Conn, role string, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, s)
			if err == nil {
				return errors.New("allowed")
			}
			return err
		})
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != pgerrcode.InsufficientPrivilege {
			t.Errorf("%s: %s: %v, want insufficient_privilege", role, s, err)
		}
	}
}

// allowed runs each statement in a transaction rolled back, and wants it to succeed.
func allowed(t *testing.T, ctx context.Context, conn *pgx.Conn, role string, stmts ...string) {
	t.Helper()
	rollback := errors.New("rollback")
	for _, s := range stmts {
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, s); err != nil {
				return err
			}
			return rollback
		})
		if !errors.Is(err, rollback) {
			t.Errorf("%s: %s: %v", role, s, err)
		}
	}
}

// TestWriterRole: mhfz_writer, the sink's role, reads and appends to the weapon tables, keeps
// its bookkeeping, and can neither change the schema nor read what it was not given: not the
// rebuild schema, not another schema of the database. (That it can do all the sink does is
// the sink's own tests, which run as mhfz_writer.)
func TestWriterRole(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dbURL, w := migratedAs(t, ctx, migrations.WriterRole)
	execOwner(t, ctx, dbURL, "CREATE SCHEMA other", "CREATE TABLE other.secrets (x int)",
		"CREATE TABLE mhfz_rebuild.long_sword (LIKE public.long_sword)")
	role := migrations.WriterRole
	denied(t, ctx, w, role,
		"DROP TABLE long_sword", "ALTER TABLE long_sword ADD COLUMN x int", "ALTER TABLE long_sword DROP COLUMN name",
		"DROP TABLE weapon_latest", "ALTER TABLE weapon_latest ADD COLUMN x int",
		"DROP TABLE kafka_offsets", "ALTER TABLE sink_dead_letter ADD COLUMN x int", "DROP TABLE sink_conflict",
		"DROP VIEW long_sword_current", "CREATE INDEX ON long_sword (name)",
		"CREATE TABLE public.mine (x int)", "CREATE VIEW public.mine AS SELECT 1", "CREATE SCHEMA mine",
		"UPDATE long_sword SET name = 'x'", "DELETE FROM long_sword",
		"INSERT INTO pipeline_rebuild (consumer) VALUES ('x')", "DELETE FROM pipeline_rebuild",
		"UPDATE sink_dead_letter SET reason = 'x'",
		"SELECT * FROM other.secrets", "SELECT * FROM mhfz_rebuild.long_sword",
		"CREATE TABLE mhfz_rebuild.mine (x int)")
	allowed(t, ctx, w, role,
		"SELECT * FROM long_sword", "SELECT * FROM partner_weapon", "SELECT * FROM weapon_latest",
		"TRUNCATE long_sword, weapon_latest", "SELECT * FROM pipeline_rebuild",
		"INSERT INTO kafka_offsets VALUES ('c', 't', 0, 1) ON CONFLICT (consumer, topic, partition) DO UPDATE SET next_offset = 2",
		"SELECT * FROM kafka_offsets FOR UPDATE", "DELETE FROM kafka_offsets",
		"INSERT INTO sink_dead_letter (consumer, kafka_topic, kafka_partition, kafka_offset, reason) VALUES ('c', 't', 0, 1, 'r')",
		"DELETE FROM sink_dead_letter", "DELETE FROM sink_conflict",
		"CREATE TEMP TABLE stage_long_sword (LIKE long_sword) ON COMMIT DELETE ROWS")
}

// TestRebuilderRole: mhfz_rebuilder, the role of mhfz reprocess, owns the weapon tables (its
// switch drops them) and the rebuild schema, but only uses the sink's bookkeeping tables: it
// cannot drop or alter them, nor create another schema. (That it can run a whole re-processing
// is sink's TestRebuildAsRebuilder and e2e's TestReprocessEqualsRebuild.)
func TestRebuilderRole(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dbURL, r := migratedAs(t, ctx, migrations.RebuilderRole)
	execOwner(t, ctx, dbURL, "CREATE SCHEMA other", "CREATE TABLE other.secrets (x int)")
	role := migrations.RebuilderRole
	denied(t, ctx, r, role,
		"DROP TABLE kafka_offsets", "ALTER TABLE sink_dead_letter ADD COLUMN x int", "DROP TABLE sink_conflict",
		"DROP TABLE pipeline_rebuild", "TRUNCATE kafka_offsets", "CREATE SCHEMA mine", "SELECT * FROM other.secrets",
		"DROP SCHEMA public")
	allowed(t, ctx, r, role,
		"CREATE TABLE mhfz_rebuild.long_sword (LIKE public.long_sword INCLUDING ALL)",
		"DROP TABLE long_sword CASCADE", "DROP VIEW long_sword_current", "DROP TABLE weapon_latest",
		"INSERT INTO pipeline_rebuild (consumer) VALUES ('x')",
		"UPDATE sink_dead_letter SET consumer = 'x'", "DELETE FROM kafka_offsets",
		"CREATE TEMP TABLE stage_long_sword (LIKE long_sword) ON COMMIT DELETE ROWS")
}

// TestServiceRolesOwnership: mhfz_reader still reads (and only reads), and what migration 00014
// promises for tables created later holds: every
// weapon table, weapon_latest, view and history function belongs to mhfz_rebuilder (a migration
// that adds one must give it over), the writer and the reader have their rights on each, and no
// table has a sequence to grant.
func TestServiceRolesOwnership(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dbURL, reader := migratedAs(t, ctx, migrations.ReaderRole)
	allowed(t, ctx, reader, migrations.ReaderRole, "SELECT * FROM long_sword_current", "SELECT * FROM weapon_latest",
		"SELECT * FROM bow_history('x')", "SELECT * FROM kafka_offsets")
	denied(t, ctx, reader, migrations.ReaderRole, "TRUNCATE long_sword", "DELETE FROM weapon_latest",
		"INSERT INTO kafka_offsets VALUES ('c', 't', 0, 1)", "CREATE TABLE public.mine (x int)")
	owner, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close(ctx)
	var wrong []string
	err = owner.QueryRow(ctx, `
		SELECT coalesce(array_agg(what), '{}') FROM (
			SELECT t || ' owned by ' || pg_get_userbyid(c.relowner) AS what
			FROM unnest(mhfz_weapon_tables() || ARRAY['weapon_latest']) AS t
			JOIN pg_class c ON c.oid = ('public.' || t)::regclass
			WHERE pg_get_userbyid(c.relowner) <> $1
			UNION ALL
			SELECT t || '_current owned by ' || pg_get_userbyid(c.relowner)
			FROM unnest(mhfz_weapon_tables()) AS t JOIN pg_class c ON c.oid = ('public.' || t || '_current')::regclass
			WHERE pg_get_userbyid(c.relowner) <> $1
			UNION ALL
			SELECT t || '_history owned by ' || pg_get_userbyid(p.proowner)
			FROM unnest(mhfz_weapon_tables()) AS t JOIN pg_proc p ON p.oid = ('public.' || t || '_history(text)')::regprocedure
			WHERE pg_get_userbyid(p.proowner) <> $1
			UNION ALL
			SELECT t || ': ' || $2 || ' lacks ' || priv
			FROM unnest(mhfz_weapon_tables()) AS t, unnest(ARRAY['SELECT', 'INSERT', 'TRUNCATE']) AS priv
			WHERE NOT has_table_privilege($2, 'public.' || t, priv)
			UNION ALL
			SELECT t || ': ' || $2 || ' may ' || priv
			FROM unnest(mhfz_weapon_tables()) AS t, unnest(ARRAY['UPDATE', 'DELETE', 'REFERENCES', 'TRIGGER']) AS priv
			WHERE has_table_privilege($2, 'public.' || t, priv)
			UNION ALL
			SELECT t || ': ' || $3 || ' lacks SELECT'
			FROM unnest(mhfz_weapon_tables() || ARRAY['weapon_latest']) AS t
			WHERE NOT has_table_privilege($3, 'public.' || t, 'SELECT')
			UNION ALL
			SELECT 'sequence ' || c.relname FROM pg_class c
			WHERE c.relkind = 'S' AND c.relnamespace = 'public'::regnamespace AND c.relname NOT LIKE 'goose_db_version%'
			UNION ALL
			SELECT 'schema mhfz_rebuild owned by ' || pg_get_userbyid(n.nspowner) FROM pg_namespace n
			WHERE n.nspname = 'mhfz_rebuild' AND pg_get_userbyid(n.nspowner) <> $1
		) w`, migrations.RebuilderRole, migrations.WriterRole, migrations.ReaderRole).Scan(&wrong)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range wrong {
		t.Error(w)
	}
}
