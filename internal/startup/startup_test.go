package startup

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// logBuffer is a log output safe for the waiter and the test at once.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *logBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

func newWaiter(logs *logBuffer) Waiter {
	return Waiter{Log: slog.New(slog.NewTextHandler(logs, nil)), Every: 20 * time.Millisecond, Retry: 5 * time.Millisecond}
}

// refused is the error of a dial to a port nothing listens on.
var refused error = &net.OpError{Op: "dial", Net: "tcp", Addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1},
	Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}

// waitFor polls cond until it holds or a minute has passed.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within a minute", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestWaitSaysWhatItWaitsForUntilStopped: the first failed attempt is logged at once, then
// again every interval (not at every attempt), and a stop before the dependency ever answered
// is an error: ErrNotStarted, naming the dependency and the last error.
func TestWaitSaysWhatItWaitsForUntilStopped(t *testing.T) {
	var logs logBuffer
	ctx, stop := context.WithCancel(context.Background())
	n := 0 // attempts, read once the wait is over
	done := make(chan error, 1)
	// Lines far apart and attempts close together, so that a loaded machine, which stretches
	// every pause, still makes several attempts between two lines.
	w := newWaiter(&logs)
	w.Every, w.Retry = 100*time.Millisecond, time.Millisecond
	go func() {
		done <- w.Wait(ctx, "Kafka at [127.0.0.1:1]", func(context.Context) error {
			n++
			return refused
		}, nil)
	}()
	waitFor(t, "three waiting lines", func() bool { return strings.Count(logs.String(), "waiting for Kafka at [127.0.0.1:1]") >= 3 })
	stop()
	err := <-done
	if !errors.Is(err, ErrNotStarted) || !strings.Contains(err.Error(), "stopped before connecting to Kafka at [127.0.0.1:1]: a failure to start") ||
		!strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("error %v, want a failure to start naming Kafka and the last error", err)
	}
	if lines := strings.Count(logs.String(), "waiting for"); lines*2 > n {
		t.Errorf("%d waiting lines for %d attempts: it should say it every interval, not at every attempt", lines, n)
	}
	if !strings.Contains(logs.String(), "connection refused") {
		t.Errorf("the log does not say why it waits:\n%s", logs.String())
	}
}

func TestWaitOutcomes(t *testing.T) {
	authFailed := &pgconn.PgError{Severity: "FATAL", Code: "28P01", Message: `password authentication failed for user "mhfz"`}
	startingUp := &pgconn.PgError{Severity: "FATAL", Code: "57P03", Message: "the database system is starting up"}
	tests := []struct {
		name     string
		failures []error // errors of the first attempts; then success
		timeout  time.Duration
		wantErr  string // "" for success
		wantLogs []string
		noLogs   []string
	}{
		{name: "answers at once", noLogs: []string{"waiting for", "connected to"}},
		{name: "answers after a while", failures: []error{refused, startingUp, refused},
			wantLogs: []string{"waiting for PostgreSQL at h:5432", "connected to PostgreSQL at h:5432"}},
		{name: "wrong password fails at once", failures: []error{fmt.Errorf("connect: %w", authFailed), refused},
			wantErr: "connect to PostgreSQL at h:5432: connect: FATAL: password authentication failed", noLogs: []string{"waiting for"}},
		{name: "gives up after the timeout", failures: repeat(refused, 1e6), timeout: 50 * time.Millisecond,
			wantErr: "connect to PostgreSQL at h:5432: gave up after 50ms: dial tcp", wantLogs: []string{"gives_up_in="}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs logBuffer
			w := newWaiter(&logs)
			w.Timeout = tc.timeout
			i := 0
			err := w.Wait(context.Background(), "PostgreSQL at h:5432", func(context.Context) error {
				if i < len(tc.failures) {
					i++
					return tc.failures[i-1]
				}
				return nil
			}, PostgresNotReady)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("error %v, want success", err)
			case tc.wantErr != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.wantErr)):
				t.Fatalf("error %v, want one starting with %q", err, tc.wantErr)
			case errors.Is(err, ErrNotStarted):
				t.Fatalf("error %v: not a stop", err)
			}
			for _, want := range tc.wantLogs {
				if !strings.Contains(logs.String(), want) {
					t.Errorf("log lacks %q:\n%s", want, logs.String())
				}
			}
			for _, not := range tc.noLogs {
				if strings.Contains(logs.String(), not) {
					t.Errorf("log has %q:\n%s", not, logs.String())
				}
			}
		})
	}
}

func repeat(err error, n int) []error {
	out := make([]error, n)
	for i := range out {
		out[i] = err
	}
	return out
}

// TestWaitBoundsAnAttempt: an attempt that hangs (a dial into the void) is cut after Attempt,
// so that the waiter still says what it waits for.
func TestWaitBoundsAnAttempt(t *testing.T) {
	var logs logBuffer
	w := newWaiter(&logs)
	w.Attempt, w.Timeout = 10*time.Millisecond, 200*time.Millisecond
	err := w.Wait(context.Background(), "Kafka at [10.255.255.1:9092]", func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	}, nil)
	if err == nil || !strings.Contains(err.Error(), "gave up after 200ms") || !strings.Contains(logs.String(), "waiting for Kafka") {
		t.Fatalf("error %v, log:\n%s", err, logs.String())
	}
}

func TestWaiterNeedsALogger(t *testing.T) {
	if err := (Waiter{}).Wait(context.Background(), "x", func(context.Context) error { return nil }, nil); err == nil {
		t.Fatal("no error without a logger")
	}
}

func TestPostgresNotReady(t *testing.T) {
	pg := func(code string) error { return &pgconn.PgError{Code: code} }
	var netErr error = &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	tests := []struct {
		err  error
		want bool
	}{
		{netErr, true},
		{fmt.Errorf("failed to connect: %w", netErr), true},
		{&net.DNSError{Err: "no such host", Name: "postgres", IsNotFound: true}, true}, // compose: not up yet
		{context.DeadlineExceeded, true},
		{fmt.Errorf("receive message: %w", io.ErrUnexpectedEOF), true},
		{io.EOF, true},
		{os.NewSyscallError("read", syscall.ECONNRESET), true},
		{os.NewSyscallError("connect", syscall.ECONNREFUSED), true},
		{x509.UnknownAuthorityError{}, false},                // a certificate that does not verify
		{errors.New("server refused TLS connection"), false}, // unclassified: not waited out
		{pg("57P03"), true}, // the database system is starting up
		{pg("57P01"), true}, // terminating connection due to administrator command
		{pg("08006"), true}, // connection failure
		{pg("53300"), true}, // too many connections
		{fmt.Errorf("connect: %w", pg("57P03")), true},
		{pg("28P01"), false}, // password authentication failed
		{pg("28000"), false}, // role does not exist
		{pg("3D000"), false}, // database does not exist
		{pg("42501"), false}, // insufficient privilege
		{nil, false},
	}
	for _, tc := range tests {
		if got := PostgresNotReady(tc.err); got != tc.want {
			t.Errorf("PostgresNotReady(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestPostgresTargetHidesThePassword(t *testing.T) {
	got, err := PostgresTarget("postgres://mhfz:s3cret@db.example:6543/weapons?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	if want := "PostgreSQL at db.example:6543 (database weapons, user mhfz)"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if _, err := PostgresTarget("postgres://%zz"); err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("bad URL: %v", err)
	}
}
