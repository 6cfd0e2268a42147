package bunstore

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"

	"github.com/invitekit/invites"
)

// translate keeps the core's errors as they are, so callers can match
// them with errors.Is and errors.As, and marks the rest as the store's.
func translate(err error) error {
	var rule *invites.RuleError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, invites.ErrNotFound), errors.Is(err, invites.ErrInvalidToken),
		errors.Is(err, invites.ErrAlreadyInvited), errors.Is(err, invites.ErrStaleDelivery),
		errors.Is(err, invites.ErrUnavailable), errors.As(err, &rule):
		return err
	}
	return wrap(err)
}

// unavailable tells the failures that say the database could not answer,
// not that the request was wrong: worth a retry once it is back. They are
// a statement stopped by statement_timeout (List's or the host's own,
// query_canceled 57014); a connection that could not be made or was lost
// (a network error, EOF, a driver's bad or closed connection); and the
// server refusing for now: SQLSTATE class 08 (connection exception), 57P
// (shutting down or starting up) and 53 (out of connections, memory or
// disk); and a node that cannot write (25006, see cannotWrite), or a
// multi-host DSN's target_session_attrs that found no host it asked for
// (pgx's "read only connection" and its kin): the primary is away, and a
// failover brings one back; and SQLite's SQLITE_BUSY or SQLITE_LOCKED past
// busy_timeout, a file another process holds locked. The caller's own cancel or deadline is none of them, but a
// deadline that ended a connection attempt is the driver's connect_timeout
// (or the caller's, met while the database did not answer): unavailable.
func unavailable(err error) bool {
	switch {
	case errors.Is(err, context.Canceled):
		return false
	case errors.Is(err, context.DeadlineExceeded):
		return strings.Contains(err.Error(), "failed to connect to") // pgx's *pgconn.ConnectError
	}
	if sqliteBusy(err) {
		return true
	}
	switch code := sqlState(err); {
	case code == "57014", cannotWrite(err), strings.HasPrefix(code, "08"), strings.HasPrefix(code, "57P"), strings.HasPrefix(code, "53"):
		return true
	case code != "":
		return false // the server answered: the request, not the connection, failed
	}
	var nerr net.Error
	return errors.As(err, &nerr) || noTargetSession(err) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, driver.ErrBadConn) || strings.Contains(err.Error(), "conn closed") // pgconn.ErrConnClosed
}

// sqlState is the SQLSTATE of a PostgreSQL error, for the drivers bun is
// used with: pgx (SQLState) and bun's pgdriver (Field); "" for others.
func sqlState(err error) string {
	var pgx interface{ SQLState() string }
	if errors.As(err, &pgx) {
		return pgx.SQLState()
	}
	var pgdriver interface{ Field(byte) string }
	if errors.As(err, &pgdriver) {
		return pgdriver.Field('C')
	}
	return ""
}

// isUniqueViolation tells a broken unique index from other failures, for
// the drivers bun is used with: pgx (SQLState), bun's pgdriver (Field), and
// SQLite's (Code, or their message).
func isUniqueViolation(err error) bool {
	if err == nil {
		return false
	}
	var pgx interface{ SQLState() string }
	if errors.As(err, &pgx) {
		return pgx.SQLState() == "23505"
	}
	var pgdriver interface{ Field(byte) string }
	if errors.As(err, &pgdriver) {
		return pgdriver.Field('C') == "23505"
	}
	var sqlite interface{ Code() int }
	if errors.As(err, &sqlite) {
		// SQLITE_CONSTRAINT_UNIQUE and SQLITE_CONSTRAINT_PRIMARYKEY.
		return sqlite.Code() == 2067 || sqlite.Code() == 1555
	}
	return strings.Contains(err.Error(), "UNIQUE constraint failed")
}

// noTargetSession reports whether err is pgx's refusal of every host of a
// DSN by its target_session_attrs (pgconn.ErrReadOnlyConnection and its
// three kin, by their text), met while no host is in the state asked for.
func noTargetSession(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "failed to connect to") && (strings.Contains(msg, "read only connection") ||
		strings.Contains(msg, "connection is not read only") || strings.Contains(msg, "standby mode"))
}

// sqliteBusy reports whether err is SQLite's SQLITE_BUSY (5) or
// SQLITE_LOCKED (6), or one of their extended codes, from either driver
// sqliteshim may pick (Code, or their message).
func sqliteBusy(err error) bool {
	var sqlite interface{ Code() int }
	if errors.As(err, &sqlite) {
		c := sqlite.Code() & 0xff
		return c == 5 || c == 6
	}
	msg := err.Error()
	return strings.Contains(msg, "database is locked") || strings.Contains(msg, "database table is locked")
}
