package sink

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/mhfz/mhfz-pipeline/migrations"

	"github.com/mhfz/mhfz-pipeline/internal/kafka"
)

// The sink tells errors apart by their type and PostgreSQL's SQLSTATE (pgerrcode's classes),
// never by their text. What it retries is an allow-list (retryable): an error nobody classified
// stops the sink, saying so, rather than being retried for ever.

// retryable reports whether err may go away by itself, so that the operation is tried again
// with backoff: PostgreSQL is down, restarting, short of resources or cancelled the statement
// (connection exception, operator intervention, insufficient resources, system error), the
// transaction lost a serialization failure or a deadlock (transaction rollback), or the
// connection failed (connectionLost). Errors PostgreSQL returns for the statement itself (a
// missing table: the schema is not migrated) are not, nor a stop (context.Canceled), nor
// errSavepointCap (the batch must be cut), nor any error not listed.
func retryable(err error) bool {
	if err == nil || errors.Is(err, errSavepointCap) || errors.Is(err, context.Canceled) {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return transientCode(pgErr.Code)
	}
	return connectionLost(err)
}

// transientCode reports whether a SQLSTATE says the server, not the statement, is at fault.
func transientCode(code string) bool {
	return pgerrcode.IsConnectionException(code) || pgerrcode.IsOperatorIntervention(code) ||
		pgerrcode.IsInsufficientResources(code) || pgerrcode.IsTransactionRollback(code) ||
		pgerrcode.IsSystemError(code)
}

// connectionLost reports whether err says the database could not be reached or the connection
// broke (pgx's errors for it carry no SQLSTATE): pgx failed before it sent anything
// (pgconn.SafeToRetry, a closed connection among them), timed out (pgconn.Timeout, a deadline),
// or the network failed (a net.Error: refused, reset, no route, no such host yet; an EOF).
func connectionLost(err error) bool {
	var netErr net.Error
	return pgconn.SafeToRetry(err) || pgconn.Timeout(err) || errors.Is(err, context.DeadlineExceeded) ||
		errors.As(err, &netErr) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// restartable reports whether a failed Run may start again: the database's transient failures
// (retryable), Kafka's retriable answers (kafka.Retriable, its ErrOutOfBrokers among them) and
// a broker's connection lost.
func restartable(err error) bool {
	return retryable(err) || kafka.Retriable(err)
}

// classified reports whether err is one the sink knows: PostgreSQL's answer, a stop, the
// savepoint cap, a re-processing, or one retryable lists. Any other error is unexpected.
func classified(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) || errors.Is(err, context.Canceled) || errors.Is(err, errSavepointCap) ||
		errors.Is(err, ErrRebuilding) || retryable(err)
}

// notRetried is the error of an operation (what) that failed with err and is not retried: err as
// it is if the sink knows it, else err said to be unexpected, so that the log says why the sink
// stopped instead of retrying.
func notRetried(what string, err error) error {
	if classified(err) {
		return err
	}
	return fmt.Errorf("%s: unexpected error, not retried (neither PostgreSQL's answer nor a known failure "+
		"of the connection): %w", what, err)
}

func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == pgerrcode.UniqueViolation
}

// neverStorable reports whether err says a row can never be stored, whatever the retries: a
// data exception (a NUL byte, an out-of-range number), an integrity constraint violation or a
// program limit (an index row too large). The row is dead-lettered.
func neverStorable(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	c := pgErr.Code
	return pgerrcode.IsDataException(c) || pgerrcode.IsIntegrityConstraintViolation(c) || pgerrcode.IsProgramLimitExceeded(c)
}

// copyRejected reports whether a COPY failed because of one of its rows: neverStorable, a value
// the sink cannot encode for its column (*copyValueError), or cancelled (query_canceled). A
// cancel by an operator or a statement timeout is not a row's fault; the halves are then tried
// again, and a single row's INSERT tells them apart.
func copyRejected(err error) bool {
	var pgErr *pgconn.PgError
	var valueErr *copyValueError
	return neverStorable(err) || errors.As(err, &valueErr) ||
		(errors.As(err, &pgErr) && pgErr.Code == pgerrcode.QueryCanceled)
}

// rejection says why PostgreSQL rejected a row (err: neverStorable), naming from the error's
// fields the column, the constraint and the table it names.
func rejection(err error) string {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return err.Error()
	}
	var where []string
	for _, f := range []struct{ what, name string }{
		{"column", pgErr.ColumnName}, {"constraint", pgErr.ConstraintName}, {"table", pgErr.TableName},
	} {
		if f.name != "" {
			where = append(where, f.what+" "+f.name)
		}
	}
	if len(where) == 0 {
		return err.Error()
	}
	return strings.Join(where, ", ") + ": " + err.Error()
}

// explain adds a hint to an error that a missing migration, or a role without the sink's rights,
// causes.
func explain(err error) error {
	var pgErr *pgconn.PgError
	switch {
	case !errors.As(err, &pgErr):
	case pgErr.Code == pgerrcode.UndefinedTable || pgErr.Code == pgerrcode.UndefinedColumn:
		return fmt.Errorf("%w (the database schema is missing or old: run `mhfz migrate up`)", err)
	case pgErr.Code == pgerrcode.InsufficientPrivilege:
		return fmt.Errorf("%w (the sink connects as %s, which `mhfz migrate up` creates and grants; "+
			"a re-processing's sink as %s)", err, migrations.WriterRole, migrations.RebuilderRole)
	}
	return err
}
