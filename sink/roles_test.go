package sink

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/mhfz/mhfz-pipeline/codecs"
	"github.com/mhfz/mhfz-pipeline/internal/testenv"
	"github.com/mhfz/mhfz-pipeline/migrations"
)

// sinkAs is a Sink that is never run, connected as dbURL's role; rebuild makes it the sink of a
// re-processing (the rebuilt tables of mhfz_rebuild).
func (f *fixture) sinkAs(t testing.TB, dbURL string, rebuild bool) *Sink {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Brokers, cfg.DatabaseURL, cfg.Names, cfg.Rebuild = []string{"kafka.invalid:9092"}, dbURL, f.names, rebuild
	cfg.Logger, cfg.RetryMin = slog.New(slog.NewTextHandler(io.Discard, nil)), 10*time.Millisecond
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	openDatabase(t, s)
	return s
}

// TestRebuildAsRebuilder: a re-processing's PostgreSQL side as mhfz reprocess runs it, as
// mhfz_rebuilder (prepared twice, as a re-processing run again after an interruption: the
// second empties what the first left), its sink filling the rebuilt tables as that role too,
// then the switch; after it the live sink, as mhfz_writer, stores into the switched tables and
// weapon_latest, and the rebuild schema is there, empty, for the next re-processing.
func TestRebuildAsRebuilder(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	f := dbFixture(t)
	rebuilder := testenv.RoleURL(t, f.url, migrations.RebuilderRole)
	weapons := func(prefix string, n int) []*codecs.Weapon {
		ws := make([]*codecs.Weapon, n)
		for i := range ws {
			ws[i] = longSword(fmt.Sprintf("%s-%d", prefix, i), 1, fmt.Sprintf("%064x", i))
		}
		return ws
	}
	live := f.sinkAs(t, f.writer, false)
	if err := live.writeBatch(ctx, live.records(t, 0, 0, weapons("old", 3)...)); err != nil {
		t.Fatalf("the live sink as %s: %v", migrations.WriterRole, err)
	}

	rb, err := NewRebuild(ctx, rebuilder, string(f.names.SinkConsumer()), string(f.names.SinkRebuildConsumer()))
	if err != nil {
		t.Fatal(err)
	}
	defer rb.Close()
	for range 2 {
		if err := rb.Prepare(ctx); err != nil {
			t.Fatalf("prepare as %s: %v", migrations.RebuilderRole, err)
		}
	}
	rebuilding := f.sinkAs(t, rebuilder, true)
	if err := rebuilding.writeBatch(ctx, rebuilding.records(t, 0, 0, weapons("new", 5)...)); err != nil {
		t.Fatalf("the re-processing's sink as %s: %v", migrations.RebuilderRole, err)
	}
	if _, err := rb.Switch(ctx); err != nil {
		t.Fatalf("switch as %s: %v", migrations.RebuilderRole, err)
	}

	after := f.sinkAs(t, f.writer, false)
	if err := after.writeBatch(ctx, after.records(t, 0, 5, weapons("later", 2)...)); err != nil {
		t.Fatalf("the live sink as %s after the switch: %v", migrations.WriterRole, err)
	}
	for _, c := range []struct {
		query string
		want  int64
	}{
		{`SELECT count(*) FROM long_sword WHERE key LIKE '%old-%'`, 0},
		{`SELECT count(*) FROM long_sword`, 7},
		{`SELECT count(*) FROM weapon_latest WHERE weapon_table = 'long_sword'`, 7},
		{`SELECT next_offset FROM kafka_offsets WHERE consumer = '` + string(f.names.SinkConsumer()) + `'`, 7},
		{`SELECT count(*) FROM pg_namespace WHERE nspname = 'mhfz_rebuild' AND pg_get_userbyid(nspowner) = 'mhfz_rebuilder'`, 1},
		{`SELECT count(*) FROM pg_class WHERE relnamespace = 'mhfz_rebuild'::regnamespace`, 0},
		{`SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename = 'long_sword' AND tableowner = 'mhfz_rebuilder'`, 1},
	} {
		var n int64
		if err := f.db.QueryRow(ctx, c.query).Scan(&n); err != nil || n != c.want {
			t.Errorf("%s: %d (%v), want %d", c.query, n, err, c.want)
		}
	}
}

// TestExplainInsufficientPrivilege: a role without the sink's rights stops the sink with an error
// that names the role to connect as (never a dead letter: the records are not at fault).
func TestExplainInsufficientPrivilege(t *testing.T) {
	denied := &pgconn.PgError{Code: pgerrcode.InsufficientPrivilege, Message: "permission denied for table long_sword"}
	if err := explain(denied); !strings.Contains(err.Error(), migrations.WriterRole) || !errors.As(err, new(*pgconn.PgError)) {
		t.Errorf("explain: %v, want the error with %s named", err, migrations.WriterRole)
	}
	if neverStorable(denied) || retryable(denied) {
		t.Error("insufficient_privilege is taken for a bad record or a passing failure: it is the deployment's")
	}
}
