package startup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5/pgconn"
)

// PostgresNotReady reports whether err, from connecting to PostgreSQL, means that the server
// is not reachable yet and may be soon: no connection at all (refused, reset, timed out, cut
// short, no such host yet in a compose network), or the server's own "not now" (starting up or
// shutting down 57P01-03, connection exceptions 08xxx, too many connections and other
// insufficient resources 53xxx). It is an allow-list: any other error will not change by
// waiting, a wrong password or an unknown user (28xxx), a database that does not exist (3D000), a
// missing privilege, a TLS certificate that does not verify, an error nobody classified.
func PostgresNotReady(err error) bool {
	if err == nil {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch code := pgErr.Code; {
		case code == pgerrcode.CannotConnectNow, code == pgerrcode.AdminShutdown, code == pgerrcode.CrashShutdown:
			return true
		case pgerrcode.IsConnectionException(code), pgerrcode.IsInsufficientResources(code):
			return true
		}
		return false
	}
	return unreachable(err)
}

// unreachable reports whether err says that the server could not be reached or answered
// nothing: a failed network operation, a name not (yet) resolved, a timeout, a connection
// closed before the answer.
func unreachable(err error) bool {
	var opErr *net.OpError
	var dnsErr *net.DNSError
	switch {
	case errors.As(err, &opErr), errors.As(err, &dnsErr):
		return true
	case pgconn.Timeout(err), errors.Is(err, context.DeadlineExceeded):
		return true
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return true
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET):
		return true
	}
	return false
}

// PostgresTarget names the database of a URL for the log and the errors, without its password:
// "PostgreSQL at 127.0.0.1:5432 (database mhfz, user mhfz)".
func PostgresTarget(url string) (string, error) {
	cfg, err := pgconn.ParseConfig(url)
	if err != nil {
		return "", fmt.Errorf("database URL: %w", err)
	}
	return fmt.Sprintf("PostgreSQL at %s:%d (database %s, user %s)", cfg.Host, cfg.Port, cfg.Database, cfg.User), nil
}
