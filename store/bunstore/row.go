package bunstore

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/invitekit/invites"
	"github.com/uptrace/bun/dialect"
	"github.com/uptrace/bun/schema"
)

// inviteCols are the columns scanInvite reads, in its order.
const inviteCols = "id, tenant_id, email, first_name, last_name, locale, data, roles, status, " +
	"status_updated_at, expires_at, send_count, last_sent_at, delivery_status, delivery_error, " +
	"created_by_user_id, accepted_by_user_id, created_at, updated_at, by_host"

// scanner is *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

// scanInvite reads one row of inviteCols.
func scanInvite(r scanner) (invites.Invite, error) {
	var (
		inv        invites.Invite
		data       jsonText
		roles      roleList
		status     string
		delivery   string
		acceptedBy sql.NullString
		stAt, exp  ts
		sent       ts
		created    ts
		updated    ts
		byHost     bool
	)
	err := r.Scan(&inv.ID, &inv.TenantID, &inv.Email, &inv.FirstName, &inv.LastName, &inv.Locale,
		&data, &roles, &status, &stAt, &exp, &inv.SendCount, &sent, &delivery, &inv.DeliveryError,
		&inv.CreatedByUserID, &acceptedBy, &created, &updated, &byHost)
	if err != nil {
		return invites.Invite{}, err
	}
	inv.Data = json.RawMessage(data)
	inv.Roles = []string(roles)
	inv.Status = invites.Status(status)
	inv.DeliveryStatus = invites.DeliveryStatus(delivery)
	if byHost {
		inv.DeliveryStatus = invites.DeliveryHost
	}
	inv.AcceptedByUserID = acceptedBy.String
	inv.StatusUpdatedAt, inv.ExpiresAt, inv.LastSentAt = time.Time(stAt), time.Time(exp), time.Time(sent)
	inv.CreatedAt, inv.UpdatedAt = time.Time(created), time.Time(updated)
	return inv, nil
}

// sqliteTime is how SQLite keeps a time: UTC, fixed width, so that text
// order is time order and SQLite's date functions still read it.
const sqliteTime = "2006-01-02 15:04:05.000000"

// ts is a time as the dialect keeps it, at PostgreSQL's microsecond
// precision on both so every store holds the same instant.
type ts time.Time

// at converts t to the precision the database keeps.
func at(t time.Time) ts { return ts(t.UTC().Truncate(time.Microsecond)) }

// AppendQuery writes t as a SQL literal: timestamptz text on PostgreSQL,
// sqliteTime text on SQLite.
func (t ts) AppendQuery(gen schema.QueryGen, b []byte) ([]byte, error) {
	tt := time.Time(t).UTC().Truncate(time.Microsecond)
	if gen.Dialect().Name() == dialect.SQLite {
		return gen.Dialect().AppendString(b, tt.Format(sqliteTime)), nil
	}
	return gen.Dialect().AppendTime(b, tt), nil
}

// Scan reads a time from either dialect's driver.
func (t *ts) Scan(src any) error {
	var s string
	switch v := src.(type) {
	case time.Time:
		*t = ts(v.UTC())
		return nil
	case string:
		s = v
	case []byte:
		s = string(v)
	default:
		return fmt.Errorf("bunstore: cannot read a time from %T", src)
	}
	v, err := time.Parse(sqliteTime, s)
	if err != nil {
		return fmt.Errorf("bunstore: reading a time: %w", err)
	}
	*t = ts(v)
	return nil
}

// jsonText is an invite's data: JSON text, or NULL when there is none.
type jsonText []byte

// none reports whether j is no data at all: stored as NULL.
func (j jsonText) none() bool { return len(j) == 0 || string(j) == "null" }

// AppendQuery writes the JSON as a string literal, which PostgreSQL casts
// to jsonb and SQLite keeps as text.
func (j jsonText) AppendQuery(gen schema.QueryGen, b []byte) ([]byte, error) {
	if j.none() {
		return append(b, "NULL"...), nil
	}
	return gen.Dialect().AppendString(b, string(j)), nil
}

// Scan copies the JSON text, since a driver may reuse its buffer.
func (j *jsonText) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*j = nil
	case string:
		*j = jsonText(v)
	case []byte:
		*j = append(jsonText(nil), v...)
	default:
		return fmt.Errorf("bunstore: cannot read JSON from %T", src)
	}
	return nil
}

// roleList is kept as a JSON array of strings.
type roleList []string

// AppendQuery writes the roles as a JSON string literal.
func (r roleList) AppendQuery(gen schema.QueryGen, b []byte) ([]byte, error) {
	return gen.Dialect().AppendString(b, r.json()), nil
}

// json is the roles as a JSON array.
func (r roleList) json() string {
	if len(r) == 0 {
		return "[]"
	}
	js, _ := json.Marshal([]string(r)) // a []string always marshals
	return string(js)
}

// Scan decodes the JSON array.
func (r *roleList) Scan(src any) error {
	var b []byte
	switch v := src.(type) {
	case string:
		b = []byte(v)
	case []byte:
		b = v
	default:
		return fmt.Errorf("bunstore: cannot read roles from %T", src)
	}
	var out []string
	if err := json.Unmarshal(b, &out); err != nil {
		return fmt.Errorf("bunstore: reading roles: %w", err)
	}
	*r = out
	return nil
}

// pairs is a list of (tenant_id, email_norm), for row-value IN: a VALUES
// list on SQLite; on PostgreSQL a list of row literals while it is short
// (planned in a third of the time of the JSON form for one pair), else one
// JSON literal, which it plans far faster than thousands of literals.
type pairs [][2]string

// appendTuples writes each pair as a tuple of quoted strings,
// comma-separated: ('t1', 'a@x.io'), ('t1', 'b@x.io').
func appendTuples(gen schema.QueryGen, b []byte, p [][2]string) []byte {
	for i, kv := range p {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, '(')
		b = gen.Dialect().AppendString(b, kv[0])
		b = append(b, ", "...)
		b = gen.Dialect().AppendString(b, kv[1])
		b = append(b, ')')
	}
	return b
}

// pgShortPairs is the longest list PostgreSQL gets as row literals.
const pgShortPairs = 16

// AppendQuery writes the list as a subquery of two columns, or on
// PostgreSQL a short list as row literals.
func (p pairs) AppendQuery(gen schema.QueryGen, b []byte) ([]byte, error) {
	open := "(VALUES "
	if gen.Dialect().Name() == dialect.PG {
		if len(p) > pgShortPairs {
			js, err := json.Marshal(p)
			if err != nil {
				return nil, err
			}
			b = append(b, "(SELECT r->>0, (r->>1) COLLATE \"C\" FROM jsonb_array_elements("...)
			b = gen.Dialect().AppendString(b, string(js))
			return append(b, "::jsonb) AS r)"...), nil
		}
		open = "("
	}
	b = appendTuples(gen, append(b, open...), p)
	return append(b, ')'), nil
}

// statusAt is the SQL of invites.Invite.StatusAt: the status as read at
// the time bound to its one placeholder.
func (s *Store) statusAt() string {
	expr := "CASE WHEN status = 'pending' AND expires_at <= ? THEN 'expired' ELSE status END"
	if s.pg {
		// A literal and a "C" column: say which collation orders the result.
		expr = "(" + expr + ") COLLATE \"C\""
	}
	return expr
}

// likeEscaper makes % and _ (and the escape itself) literal in LIKE.
var likeEscaper = strings.NewReplacer("!", "!!", "%", "!%", "_", "!_")

// fold is the case folding of search, done in Go for both dialects:
// SQLite's lower() leaves all but ASCII alone.
func fold(s string) string { return strings.ToLower(s) }

// contains is a LIKE pattern for the substring s, with ESCAPE '!'.
func contains(s string) string { return "%" + likeEscaper.Replace(s) + "%" }

// deliveryText is how delivery_status keeps d: DeliveryHost as 'sent',
// by_host telling it apart (see the host_links migration).
func deliveryText(d invites.DeliveryStatus) string {
	if d == invites.DeliveryHost {
		return string(invites.DeliverySent)
	}
	return string(d)
}
