package sink

import (
	"io"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// proxy forwards TCP connections to a server; down() cuts them all and refuses new ones,
// up() accepts again on the same address: a PostgreSQL that goes away and comes back.
type proxy struct {
	target string
	addr   string
	mu     sync.Mutex
	ln     net.Listener
	conns  []net.Conn
}

func newProxy(t *testing.T, target string) *proxy {
	p := &proxy{target: target}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(p.down)
	return p
}

func (p *proxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", p.target)
			if err != nil {
				in.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, in, out)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(out, in); out.Close() }()
			go func() { _, _ = io.Copy(in, out); in.Close() }()
		}
	}()
}

func (p *proxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *proxy) up(t *testing.T) {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		t.Fatalf("reopen the proxy on %s: %v", p.addr, err)
	}
	p.serve(ln)
}

// TestDatabaseOutage cuts the sink from PostgreSQL while records arrive: it retries with
// backoff, logs the outage once and the recovery once, advances no offset meanwhile, and stores
// everything once the database is back, without a restart.
func TestDatabaseOutage(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	u, err := url.Parse(f.url)
	if err != nil {
		t.Fatal(err)
	}
	p := newProxy(t, u.Host)
	u.Host = p.addr
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

	p.down()
	f.produce(t, msgs[200:])
	r.waitStats(t, func(st Stats) bool { return st.Retries >= 3 }, time.Minute)
	if got := f.consumed(t); got != 200 {
		t.Fatalf("offsets moved to %d while the database was unreachable, want 200", got)
	}
	p.up(t)
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
