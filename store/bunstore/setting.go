package bunstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/uptrace/bun"
)

// ErrNonStandardStrings refuses a PostgreSQL session whose
// standard_conforming_strings is off: there a backslash in a string
// literal is an escape, and a value bun inlines could end its literal and
// rewrite the statement.
var ErrNonStandardStrings = errors.New("bunstore: PostgreSQL's standard_conforming_strings is off; bun's quoting needs it on " +
	"(the default since PostgreSQL 9.1: remove the setting from postgresql.conf, the role, the database or the connection string)")

// ready checks the Store's pools at its first use (see checkPool), and
// refuses while its PostgreSQL session has
// standard_conforming_strings off. It asks once: a success is kept, so
// the rest cost one atomic load; a failure is not, so a fixed server
// recovers without a restart.
func (s *Store) ready(ctx context.Context) error {
	s.poolChecked.Do(func() { s.checkPool(ctx) })
	if !s.pg || s.conforming.Load() {
		return nil
	}
	if err := checkStrings(ctx, s.db); err != nil {
		return err
	}
	s.conforming.Store(true)
	return nil
}

// checkStrings asks the session db hands out whether it quotes strings
// the way bun escapes them.
func checkStrings(ctx context.Context, db bun.IDB) error {
	var v string
	if err := db.QueryRowContext(ctx, "SHOW standard_conforming_strings").Scan(&v); err != nil {
		return wrap(fmt.Errorf("reading standard_conforming_strings: %w", err))
	}
	if v != "on" {
		return ErrNonStandardStrings
	}
	return nil
}
