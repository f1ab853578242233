package scraper

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"syscall"
	"testing"
)

// TestTransientNetworkErrors lists every network error the HTTP fetcher tries again, and some
// it must not: anything not on the list fails the page at once.
func TestTransientNetworkErrors(t *testing.T) {
	get := func(err error) error { return &url.Error{Op: "Get", URL: "http://site/buki/tachi.htm", Err: err} }
	dial := func(errno syscall.Errno) error {
		return get(&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", errno)})
	}
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"connection refused", dial(syscall.ECONNREFUSED), true},
		{"connection reset", get(&net.OpError{Op: "read", Err: os.NewSyscallError("read", syscall.ECONNRESET)}), true},
		{"connection aborted", dial(syscall.ECONNABORTED), true},
		{"broken pipe", get(&net.OpError{Op: "write", Err: os.NewSyscallError("write", syscall.EPIPE)}), true},
		{"connect timed out", dial(syscall.ETIMEDOUT), true},
		{"network unreachable", dial(syscall.ENETUNREACH), true},
		{"host unreachable", dial(syscall.EHOSTUNREACH), true},
		{"network down", dial(syscall.ENETDOWN), true},
		{"read deadline", get(&net.OpError{Op: "read", Err: os.ErrDeadlineExceeded}), true},
		{"closed before the answer", get(io.EOF), true},
		{"body cut short", fmt.Errorf("read body: %w", io.ErrUnexpectedEOF), true},
		{"DNS timeout", get(&net.DNSError{Err: "i/o timeout", Name: "site", IsTimeout: true}), true},
		{"DNS server failure", get(&net.DNSError{Err: "server misbehaving", Name: "site", IsTemporary: true}), true},
		{"no such host", get(&net.DNSError{Err: "no such host", Name: "site", IsNotFound: true}), false},
		{"certificate of an unknown authority", get(x509.UnknownAuthorityError{}), false},
		{"certificate for another host", get(x509.HostnameError{Host: "site"}), false},
		{"too many redirects", get(errors.New("stopped after 10 redirects")), false},
		{"permission denied", dial(syscall.EACCES), false},
		{"unclassified", errors.New("something else"), false},
	} {
		var r *retryable
		if got := errors.As(transient(tc.err), &r); got != tc.want {
			t.Errorf("%s (%v): retryable %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}
