package sink

import (
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mhfz/mhfz-pipeline/internal/testenv"
)

// TestDatabaseOutage cuts the sink from PostgreSQL while records arrive: it retries with
// backoff, logs the outage once and the recovery once, advances no offset meanwhile, and stores
// everything once the database is back, without a restart.
func TestDatabaseOutage(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	u, err := url.Parse(f.writer)
	if err != nil {
		t.Fatal(err)
	}
	p := testenv.NewProxy(t, u.Host)
	u.Host = p.Addr()
	logs := newSyncBuffer()
	cfg := f.config(slog.New(slog.NewTextHandler(logs, nil)))
	cfg.DatabaseURL = u.String()

	msgs, want := synthMessages(t, f.names, 0, 400)
	f.produce(t, msgs[:200])
	r := start(t, cfg, nil)
	f.waitConsumed(t, 200, time.Minute)
	// PostgreSQL holds the offsets once it committed, the sink knows it stored them once the
	// commit's answer came back through the proxy: cut before, the answer is lost, the sink
	// retries and skips the batch it stored (seen with the package's tests run in parallel).
	r.waitStats(t, func(st Stats) bool { return st.Stored == 200 }, time.Minute)

	p.Down()
	f.produce(t, msgs[200:])
	r.waitStats(t, func(st Stats) bool { return st.Retries >= 3 }, time.Minute)
	if got := f.consumed(t); got != 200 {
		t.Fatalf("offsets moved to %d while the database was unreachable, want 200", got)
	}
	p.Up(t)
	f.waitConsumed(t, 400, time.Minute)
	// As above: PostgreSQL holds the offsets a moment before the sink has its commit's answer;
	// a stop in between would leave the last batch stored but not counted.
	r.waitStats(t, func(st Stats) bool { return st.Stored+st.Skipped >= 400 }, time.Minute)
	st := r.stop(t)
	f.checkExactlyOnce(t, want)
	if st.Stored != 400 || st.Duplicates != 0 {
		t.Errorf("stats %+v: want 400 stored, no duplicate", st)
	}
	log := logs.String()
	if n := strings.Count(log, "database unavailable"); n != 1 {
		t.Errorf("the outage is logged %d times, want once:\n%s", n, log)
	}
	if n := strings.Count(log, "database available again"); n != 1 {
		t.Errorf("the recovery is logged %d times, want once:\n%s", n, log)
	}
}
