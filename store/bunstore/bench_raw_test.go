package bunstore_test

// The raw pgx side of the benchmarks: SQL a host using pgx alone would
// write for the same work. It shares no code with the store; what it
// relies on in the schema is stated next to each statement, and
// TestRawSchema holds that to the migrations, so a migration the raw side
// does not follow fails a test instead of skewing a ratio.

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
	"github.com/invitekit/invites/internal/schemacheck"
	"github.com/invitekit/invites/internal/testdb"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/uptrace/bun"
)

// rawSide is what the raw side's statements rely on, statement by statement.
var rawSide = []schemacheck.Uses{rawAddressLimitUses, rawExpireUses, rawInsertUses, rawAcceptUses}

// TestRawSchema fails when the raw side and the migrations disagree: a
// column it writes or reads that is gone, a column of a table it inserts
// into that it neither writes nor leaves to its default knowingly, an
// index its statements need that is missing or changed.
func TestRawSchema(t *testing.T) {
	schemacheck.Migrated(t, testdb.Postgres(t), rawSide...)
}

// rawPool opens pgx on the schema of db, as a host using pgx alone would.
func rawPool(b *testing.B, db *bun.DB) *pgxpool.Pool {
	b.Helper()
	var schema string
	if err := db.QueryRowContext(b.Context(), "SELECT current_schema()").Scan(&schema); err != nil {
		b.Fatal(err)
	}
	dsn, err := testdb.WithParams(testdb.PostgresDSN(b), "search_path", schema)
	if err != nil {
		b.Fatal(err)
	}
	pool, err := pgxpool.New(b.Context(), dsn)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	return pool
}

// rawAddressLimitUses: an address's invites, then their events.
var rawAddressLimitUses = schemacheck.Uses{
	Reads: map[string][]string{"invites": {"id", "tenant_id", "email_norm"}, "invites_events": {"invite_id", "type", "at"}},
	Indexes: []schemacheck.Index{
		{Name: "invites_tenant_email_idx", Table: "invites", Columns: []string{"tenant_id", "email_norm", "id"}},
		{Name: "invites_events_invite_idx", Table: "invites_events", Columns: []string{"invite_id", "id"}},
	},
}

// rawAddressLimit takes the address locks of rows and counts each
// address's sends of the last day, as Insert does under an address limit.
func rawAddressLimit(ctx context.Context, tx pgx.Tx, now time.Time, rows []invites.Invite) error {
	js, err := addressJSON(rows)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(h) FROM (SELECT DISTINCT
		hashtextextended('invites.address:' || length(r->>0) || ':' || (r->>0) || ':' || (r->>1), 0) AS h
		FROM jsonb_array_elements($1::jsonb) AS r ORDER BY h OFFSET 0) AS s`, string(js)); err != nil {
		return err
	}
	res, err := tx.Query(ctx, `SELECT k.t, k.n, (SELECT count(*) FROM invites AS i
			JOIN invites_events AS e ON e.invite_id = i.id
			WHERE i.tenant_id = k.t AND i.email_norm = k.n AND e.type IN ('created', 'resent') AND e.at > $2)
		FROM (SELECT r->>0 AS t, (r->>1) COLLATE "C" AS n FROM jsonb_array_elements($1::jsonb) AS r) AS k`,
		string(js), now.Add(-24*time.Hour))
	if err != nil {
		return err
	}
	counts := map[[2]string]int{}
	for res.Next() {
		var (
			k [2]string
			n int
		)
		if err := res.Scan(&k[0], &k[1], &n); err != nil {
			return err
		}
		counts[k] = n
	}
	return res.Err()
}

// rawExpireUses: the pending invite of each address, by the index that
// keeps one per address.
var rawExpireUses = schemacheck.Uses{
	Reads:   map[string][]string{"invites": {"status", "status_updated_at", "updated_at", "expires_at", "tenant_id", "email_norm"}},
	Indexes: []schemacheck.Index{pendingEmailKey},
}

// pendingEmailKey keeps one pending invite per address and tenant.
var pendingEmailKey = schemacheck.Index{Name: "invites_pending_email_key", Table: "invites",
	Columns: []string{"tenant_id", "email_norm"}, Unique: true, Where: "status = 'pending'"}

func rawExpire(ctx context.Context, tx pgx.Tx, now time.Time, rows []invites.Invite) error {
	var q strings.Builder
	args := []any{now}
	q.WriteString(`UPDATE invites SET status = 'expired', status_updated_at = $1, updated_at = $1
		WHERE status = 'pending' AND expires_at <= $1 AND (tenant_id, email_norm) IN (VALUES `)
	for i, r := range rows {
		if i > 0 {
			q.WriteString(", ")
		}
		fmt.Fprintf(&q, "($%d, $%d)", len(args)+1, len(args)+2)
		args = append(args, r.TenantID, r.EmailNorm())
	}
	q.WriteString(")")
	_, err := tx.Exec(ctx, q.String(), args...)
	return err
}

func rawExpireJSON(ctx context.Context, tx pgx.Tx, now time.Time, rows []invites.Invite) error {
	js, err := addressJSON(rows)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `UPDATE invites SET status = 'expired', status_updated_at = $1, updated_at = $1
		WHERE status = 'pending' AND expires_at <= $1 AND (tenant_id, email_norm) IN
		(SELECT r->>0, (r->>1) COLLATE "C" FROM jsonb_array_elements($2::jsonb) AS r)`, now, string(js))
	return err
}

// The raw side's INSERTs, each in the order of its values; their SQL
// names the columns through Into.
var (
	rawInvites = schemacheck.Insert{Table: "invites", Columns: []string{"id", "tenant_id", "email", "email_norm",
		"first_name", "last_name", "first_name_fold", "last_name_fold", "locale", "data", "roles", "status",
		"status_updated_at", "expires_at", "send_count", "last_sent_at", "delivery_status", "delivery_error",
		"latest_delivery_id", "created_by_user_id", "created_at", "updated_at"},
		Defaults: []string{"token_digest", "accepted_by_user_id", "by_host", "fixed_expiry"}}
	rawDeliveries = schemacheck.Insert{Table: "invites_deliveries", Columns: []string{"id", "invite_id", "tenant_id",
		"kind", "state", "attempt", "due_at", "created_at"},
		Defaults: []string{"last_error", "leased_until", "trace", "claim_id"}}
	rawEvents = schemacheck.Insert{Table: "invites_events", Columns: []string{"invite_id", "tenant_id", "type",
		"actor_id", "at", "due_at"},
		Defaults: []string{"id", "handled", "attempt"}}
)

// rawInsertUses: the invites, their outbox rows and events, the pending
// index deciding conflicts.
var rawInsertUses = schemacheck.Uses{
	Inserts: []schemacheck.Insert{rawInvites, rawDeliveries, rawEvents},
	Indexes: []schemacheck.Index{pendingEmailKey},
}

// rawOutbox writes the outbox rows and the created events of the CTE ins.
var rawOutbox = `outbox AS (INSERT INTO ` + rawDeliveries.Into() + `
	SELECT latest_delivery_id, id, tenant_id, 'invitation', 'queued', 0, last_sent_at, last_sent_at FROM ins),
	events AS (INSERT INTO ` + rawEvents.Into() + `
	SELECT id, tenant_id, 'created', created_by_user_id, last_sent_at, last_sent_at FROM ins)
	SELECT id FROM ins`

// collectAll reads the ids the insert returned and checks all were stored.
func collectAll(rows pgx.Rows, want int) error {
	stored, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return err
	}
	if len(stored) != want {
		return fmt.Errorf("stored %d of %d", len(stored), want)
	}
	return nil
}

// rawInsertJSONSQL inserts rawInvites from a JSON array of rawInvite.
var rawInsertJSONSQL = `WITH ins AS (INSERT INTO ` + rawInvites.Into() + `
	SELECT id, tenant_id, email, email_norm, first_name, last_name, first_name_fold, last_name_fold,
		locale, data, roles, 'pending', status_updated_at, expires_at, 1, last_sent_at, 'queued', '',
		latest_delivery_id, created_by_user_id, created_at, updated_at
	FROM jsonb_to_recordset($1::jsonb) AS r(id uuid, tenant_id text, email text, email_norm text,
		first_name text, last_name text, first_name_fold text, last_name_fold text, locale text,
		data jsonb, roles jsonb, status_updated_at timestamptz, expires_at timestamptz,
		last_sent_at timestamptz, latest_delivery_id uuid, created_by_user_id text,
		created_at timestamptz, updated_at timestamptz)
	ON CONFLICT (tenant_id, email_norm) WHERE status = 'pending' DO NOTHING
	RETURNING id, tenant_id, latest_delivery_id, last_sent_at, created_by_user_id), ` + rawOutbox

// rawInvite is the JSON of one row of rawInsertJSONSQL's recordset.
type rawInvite struct {
	ID              uuid.UUID `json:"id"`
	TenantID        string    `json:"tenant_id"`
	Email           string    `json:"email"`
	EmailNorm       string    `json:"email_norm"`
	FirstName       string    `json:"first_name"`
	LastName        string    `json:"last_name"`
	FirstFold       string    `json:"first_name_fold"`
	LastFold        string    `json:"last_name_fold"`
	Locale          string    `json:"locale"`
	Data            *string   `json:"data"`
	Roles           []string  `json:"roles"`
	StatusUpdatedAt time.Time `json:"status_updated_at"`
	ExpiresAt       time.Time `json:"expires_at"`
	LastSentAt      time.Time `json:"last_sent_at"`
	LatestDelivery  uuid.UUID `json:"latest_delivery_id"`
	CreatedBy       string    `json:"created_by_user_id"`
	CreatedAt       time.Time `json:"created_at"`
	UpdatedAt       time.Time `json:"updated_at"`
}

func rawInsertJSON(ctx context.Context, tx pgx.Tx, now time.Time, rows []invites.Invite) error {
	batch := make([]rawInvite, len(rows))
	for i, r := range rows {
		batch[i] = rawInvite{r.ID, r.TenantID, r.Email, r.EmailNorm(), r.FirstName, r.LastName,
			strings.ToLower(r.FirstName), strings.ToLower(r.LastName), r.Locale, nil, r.Roles,
			r.StatusUpdatedAt, r.ExpiresAt, now, uuid.Must(uuid.NewV7()), r.CreatedByUserID, r.CreatedAt, r.UpdatedAt}
	}
	js, err := json.Marshal(batch)
	if err != nil {
		return err
	}
	ids, err := tx.Query(ctx, rawInsertJSONSQL, string(js))
	if err != nil {
		return err
	}
	return collectAll(ids, len(rows))
}

func rawInsertValues(ctx context.Context, tx pgx.Tx, now time.Time, rows []invites.Invite) error {
	var q strings.Builder
	var args []any
	q.WriteString("WITH ins AS (INSERT INTO " + rawInvites.Into() + " VALUES ")
	for i, r := range rows {
		if i > 0 {
			q.WriteString(", ")
		}
		p := len(args)
		fmt.Fprintf(&q, "($%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, 'pending', $%d, $%d, 1, $%d, 'queued', '', $%d, $%d, $%d, $%d)",
			p+1, p+2, p+3, p+4, p+5, p+6, p+7, p+8, p+9, p+10, p+11, p+12, p+13, p+14, p+15, p+16, p+17, p+18)
		args = append(args, r.ID, r.TenantID, r.Email, r.EmailNorm(), r.FirstName, r.LastName,
			strings.ToLower(r.FirstName), strings.ToLower(r.LastName), r.Locale, nil, r.Roles,
			r.StatusUpdatedAt, r.ExpiresAt, now, uuid.Must(uuid.NewV7()), r.CreatedByUserID, r.CreatedAt, r.UpdatedAt)
	}
	q.WriteString(" ON CONFLICT (tenant_id, email_norm) WHERE status = 'pending' DO NOTHING " +
		"RETURNING id, tenant_id, latest_delivery_id, last_sent_at, created_by_user_id), " + rawOutbox)
	ids, err := tx.Query(ctx, q.String(), args...)
	if err != nil {
		return err
	}
	return collectAll(ids, len(rows))
}

// addressJSON is the (tenant, address) pairs of rows as one JSON array.
func addressJSON(rows []invites.Invite) ([]byte, error) {
	keys := make([][2]string, len(rows))
	for i, r := range rows {
		keys[i] = [2]string{r.TenantID, r.EmailNorm()}
	}
	return json.Marshal(keys)
}

// rawAcceptUses: the token by its digest, its invite by id, the invite's
// columns returned, and its event.
var rawAcceptUses = schemacheck.Uses{
	Inserts: []schemacheck.Insert{rawEvents},
	Reads: map[string][]string{
		"invites_tokens": {"digest", "invite_id", "delivery_id"},
		"invites": {"id", "tenant_id", "email", "first_name", "last_name", "locale", "data", "roles", "status",
			"status_updated_at", "expires_at", "send_count", "last_sent_at", "delivery_status", "delivery_error",
			"latest_delivery_id", "created_by_user_id", "accepted_by_user_id", "created_at", "updated_at"},
	},
	Indexes: []schemacheck.Index{
		{Name: "invites_tokens_pkey", Table: "invites_tokens", Columns: []string{"digest"}, Unique: true},
		{Name: "invites_pkey", Table: "invites", Columns: []string{"id"}, Unique: true},
	},
}

// rawAcceptSQL accepts the invite of a token digest if it is pending and
// live, with its event, and returns the invite.
var rawAcceptSQL = `WITH u AS (UPDATE invites
	SET status = $1, accepted_by_user_id = $2, status_updated_at = $3, updated_at = $3
	WHERE (id, latest_delivery_id) = (SELECT invite_id, delivery_id FROM invites_tokens WHERE digest = $4)
		AND status = 'pending' AND expires_at > $3
	RETURNING id, tenant_id, email, first_name, last_name, locale, data, roles, status, status_updated_at,
		expires_at, send_count, last_sent_at, delivery_status, delivery_error, created_by_user_id,
		accepted_by_user_id, created_at, updated_at),
	e AS (INSERT INTO ` + rawEvents.Into() + `
		SELECT id, tenant_id, 'accepted', $2, $3, $3 FROM u)
	SELECT * FROM u`

// rawAccept runs rawAcceptSQL for the token of digest, as user at now.
func rawAccept(ctx context.Context, pool *pgxpool.Pool, now time.Time, digest []byte) error {
	var (
		inv            invites.Invite
		status, dstat  string
		data, accepted *string
		roles          []string
	)
	err := pool.QueryRow(ctx, rawAcceptSQL, "accepted", "user", now, digest).Scan(&inv.ID, &inv.TenantID, &inv.Email,
		&inv.FirstName, &inv.LastName, &inv.Locale, &data, &roles, &status, &inv.StatusUpdatedAt, &inv.ExpiresAt,
		&inv.SendCount, &inv.LastSentAt, &dstat, &inv.DeliveryError, &inv.CreatedByUserID, &accepted,
		&inv.CreatedAt, &inv.UpdatedAt)
	if err == nil && status != "accepted" {
		err = fmt.Errorf("status %s", status)
	}
	return err
}
