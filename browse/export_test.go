package browse

import (
	"context"
	"net/http"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Handler is what Run serves, over a pool opened without waiting for the database or checking
// it (the pool connects when a request first needs it): the routes that need no database, and
// what a client gets when the database cannot be reached. The pool closes when the test ends.
func Handler(t testing.TB, s *Server) http.Handler {
	t.Helper()
	db, err := pgxpool.NewWithConfig(context.Background(), s.pool)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	s.db = db
	return s.handler
}
