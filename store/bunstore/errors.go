package bunstore

import (
	"errors"
	"strings"

	"github.com/invitekit/invites"
)

// translate keeps the core's errors as they are, so callers can match
// them with errors.Is and errors.As, and marks the rest as the store's.
func translate(err error) error {
	var np *invites.NotPendingError
	var soon *invites.ResendTooSoonError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, invites.ErrNotFound), errors.Is(err, invites.ErrInvalidToken),
		errors.Is(err, invites.ErrExpired), errors.Is(err, invites.ErrTooManyResends),
		errors.Is(err, invites.ErrAlreadyInvited), errors.Is(err, invites.ErrStaleDelivery),
		errors.Is(err, invites.ErrQuotaExceeded), errors.Is(err, invites.ErrEmailMismatch),
		errors.As(err, &np), errors.As(err, &soon):
		return err
	}
	return wrap(err)
}

// isQueryCanceled tells PostgreSQL's query_canceled (SQLSTATE 57014): a
// statement stopped by statement_timeout, List's or the host's own.
func isQueryCanceled(err error) bool { return sqlState(err) == "57014" }

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
