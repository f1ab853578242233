package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// mhfzBinary builds cmd/mhfz once per test binary and returns its path. It builds as `make
// build` does (CGO off, -trimpath), so that the packages cmd/mhfz's TestMakeBuild compiled are
// reused from the build cache instead of compiled a third time (after the raced and the test builds).
// MHFZ_E2E_BINARY names an already built binary to run instead: another build's, to compare
// two builds with the same benchmark.
var mhfzBinary = sync.OnceValues(func() (string, error) {
	if bin := os.Getenv("MHFZ_E2E_BINARY"); bin != "" {
		return bin, nil
	}
	dir, err := os.MkdirTemp("", "mhfz-e2e-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "mhfz")
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, "../cmd/mhfz")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/mhfz: %v\n%s", err, out)
	}
	return bin, nil
})

func buildMhfz(t testing.TB) string {
	t.Helper()
	bin, err := mhfzBinary()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// service is one `mhfz` subcommand running as a child process, as in the stack.
type service struct {
	t    testing.TB
	name string
	cmd  *exec.Cmd
	log  string
	done chan error
}

// startService runs `mhfz ARGS...` with the environment env added to the test's, its output in
// a log file that is printed if the test fails.
func startService(t testing.TB, env []string, args ...string) *service {
	t.Helper()
	return startBinary(t, buildMhfz(t), env, args...)
}

// startBinary is startService with another build's binary.
func startBinary(t testing.TB, bin string, env []string, args ...string) *service {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), args[0]+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatalf("start mhfz %s: %v", strings.Join(args, " "), err)
	}
	s := &service{t: t, name: args[0], cmd: cmd, log: logPath, done: make(chan error, 1)}
	go func() { s.done <- cmd.Wait(); logFile.Close() }()
	t.Cleanup(func() {
		s.stop()
		if t.Failed() {
			s.dumpLog()
		}
	})
	return s
}

func (s *service) dumpLog() {
	data, _ := os.ReadFile(s.log)
	if len(data) > 8000 {
		data = append([]byte("…"), data[len(data)-8000:]...)
	}
	s.t.Logf("log of mhfz %s:\n%s", s.name, data)
}

// stop sends SIGTERM and waits for a clean exit; it returns the exit error.
func (s *service) stop() error {
	if s.cmd.ProcessState != nil {
		return nil
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.done:
		s.done <- err
		return err
	case <-time.After(60 * time.Second):
		_ = s.cmd.Process.Kill()
		return fmt.Errorf("mhfz %s did not stop within 60s of SIGTERM", s.name)
	}
}

// kill sends SIGKILL: a crash, with no chance to clean up.
func (s *service) kill() {
	_ = s.cmd.Process.Kill()
	err := <-s.done
	s.done <- err
}

// waitLog waits until the service's log has a line containing substr.
func (s *service) waitLog(ctx context.Context, substr string) error {
	for {
		data, _ := os.ReadFile(s.log)
		if strings.Contains(string(data), substr) {
			return nil
		}
		select {
		case err := <-s.done:
			s.done <- err
			if data, _ := os.ReadFile(s.log); strings.Contains(string(data), substr) {
				return nil // its last words
			}
			return fmt.Errorf("mhfz %s exited (%v) before logging %q", s.name, err, substr)
		case <-ctx.Done():
			return fmt.Errorf("mhfz %s never logged %q: %w", s.name, substr, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// wait waits for the service to exit by itself.
func (s *service) wait(ctx context.Context) error {
	select {
	case err := <-s.done:
		s.done <- err
		return err
	case <-ctx.Done():
		return fmt.Errorf("mhfz %s still running: %w", s.name, ctx.Err())
	}
}

// runService runs `mhfz ARGS...` to completion and fails the test if it fails.
func runService(t testing.TB, ctx context.Context, env []string, args ...string) {
	t.Helper()
	s := startService(t, env, args...)
	if err := s.wait(ctx); err != nil {
		s.dumpLog()
		t.Fatalf("mhfz %s: %v", strings.Join(args, " "), err)
	}
}

// mirror serves a copy of the site's buki/ folder over HTTP on loopback, as a mirror of the
// live site would, and returns the base URL of its pages.
func mirror(t testing.TB, buki string) string {
	t.Helper()
	srv := httptest.NewServer(http.StripPrefix("/buki/", http.FileServer(http.Dir(buki))))
	t.Cleanup(srv.Close)
	return srv.URL + "/buki/"
}
