package scraper

import (
	"errors"
	"io"
	"net"
	"syscall"
)

// transient returns err as retryable if it is a network failure that passes: a timeout, a
// connection refused, reset or cut short, a network or host unreachable for now, a DNS server
// that failed to answer. The list is an allow-list: any other error (a TLS certificate that
// does not verify, a host that does not exist, too many redirects, an unsupported scheme)
// comes back as it is, and fails the page at once rather than being tried again.
func transient(err error) error {
	if isTransient(err) {
		return &retryable{err: err}
	}
	return err
}

// transientErrnos are the system errors of a connection that may well work on the next try.
var transientErrnos = []syscall.Errno{syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.ECONNABORTED,
	syscall.EPIPE, syscall.ETIMEDOUT, syscall.ENETUNREACH, syscall.EHOSTUNREACH, syscall.ENETDOWN}

func isTransient(err error) bool {
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return dns.IsTimeout || dns.IsTemporary
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true // the server closed the connection before the whole answer
	}
	for _, errno := range transientErrnos {
		if errors.Is(err, errno) {
			return true
		}
	}
	return false
}
