package httpadapter_test

// The bare side of BenchmarkHTTP: net/http and database/sql as a host
// would write them. It shares no code with the store; what its SQL relies
// on in the schema is stated next to each statement, and TestBareSchema
// holds that to the migrations on both databases, so a migration the bare
// side does not follow fails a test instead of skewing a ratio.

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/invitekit/invites"
	"github.com/invitekit/invites/httpadapter"
	"github.com/invitekit/invites/internal/schemacheck"
	"github.com/invitekit/invites/internal/testdb"
)

// bareSide is what the bare handler's statements rely on, statement by
// statement.
var bareSide = []schemacheck.Uses{bareListUses, bareAddressLimitUses, bareExpireUses, bareInsertUses}

// TestBareSchema fails when the bare side and the migrations disagree, on
// SQLite and PostgreSQL: a column it writes or reads that is gone, a
// column of a table it inserts into that it neither writes nor leaves to
// its default knowingly, an index its statements need that is missing or
// changed.
func TestBareSchema(t *testing.T) {
	for _, d := range []struct {
		name string
		open func(testing.TB) *bun.DB
	}{{"SQLite", testdb.SQLite}, {"PostgreSQL", testdb.Postgres}} {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			schemacheck.Migrated(t, d.open(t), bareSide...)
		})
	}
}

// bareHandler is what a host would write by hand for the same two routes:
// the tenant from a header, a strict JSON decode, an address check, the
// SQL the bun store runs, and JSON out. pg picks PostgreSQL's placeholders
// and time values over SQLite's.
type bareHandler struct {
	db *sql.DB
	pg bool
}

func (h *bareHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	tenant := r.Header.Get("X-Tenant")
	if tenant == "" || r.URL.Path != "/" {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	var out any
	var err error
	switch r.Method {
	case "GET":
		out, err = h.list(r.Context(), tenant)
	case "POST":
		out, err = h.send(w, r, tenant)
	default:
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(out)
}

// q turns ? placeholders into $n on PostgreSQL.
func (h *bareHandler) q(s string) string {
	if !h.pg {
		return s
	}
	var b strings.Builder
	n := 0
	for _, c := range s {
		if c == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

// at is a time as each database's column takes it: timestamptz, or
// SQLite's fixed-width UTC text.
func (h *bareHandler) at(t time.Time) any {
	t = t.UTC().Truncate(time.Microsecond)
	if h.pg {
		return t
	}
	return t.Format(sqliteTime)
}

const sqliteTime = "2006-01-02 15:04:05.000000"

// benchCols are the columns list reads of each invite, in its order.
const benchCols = "id, tenant_id, email, first_name, last_name, locale, data, roles, status, " +
	"status_updated_at, expires_at, send_count, last_sent_at, delivery_status, delivery_error, " +
	"created_by_user_id, accepted_by_user_id, created_at, updated_at"

// bareListUses: a tenant's invites in createdAt order, by the index that
// keeps them so.
var bareListUses = schemacheck.Uses{
	Reads: map[string][]string{"invites": strings.Split(benchCols, ", ")},
	Indexes: []schemacheck.Index{{Name: "invites_tenant_created_idx", Table: "invites",
		Columns: []string{"tenant_id", "created_at", "id"}}},
}

// list is a first page of 20 by createdAt with the total count, in one
// statement.
func (h *bareHandler) list(ctx context.Context, tenant string) (any, error) {
	rows, err := h.db.QueryContext(ctx, h.q("SELECT "+benchCols+
		", (SELECT count(*) FROM invites WHERE tenant_id = ?) FROM invites WHERE tenant_id = ? "+
		"ORDER BY created_at, id LIMIT 21"), tenant, tenant)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	type page struct {
		Data       []bareInvite `json:"data"`
		TotalCount int          `json:"totalCount"`
		NextCursor string       `json:"nextCursor,omitempty"`
	}
	p := page{Data: []bareInvite{}}
	for rows.Next() {
		var (
			inv             invites.Invite
			data, roles     []byte
			status, dstatus string
			accepted        sql.NullString
		)
		if err := rows.Scan(&inv.ID, &inv.TenantID, &inv.Email, &inv.FirstName, &inv.LastName, &inv.Locale,
			&data, &roles, &status, timeCol{&inv.StatusUpdatedAt}, timeCol{&inv.ExpiresAt}, &inv.SendCount,
			timeCol{&inv.LastSentAt}, &dstatus, &inv.DeliveryError, &inv.CreatedByUserID, &accepted,
			timeCol{&inv.CreatedAt}, timeCol{&inv.UpdatedAt}, &p.TotalCount); err != nil {
			return nil, err
		}
		if err := json.Unmarshal(roles, &inv.Roles); err != nil {
			return nil, err
		}
		inv.Data = data
		inv.Status, inv.DeliveryStatus = invites.Status(status), invites.DeliveryStatus(dstatus)
		b := bareInvite{plainInvite: plainInvite(inv)}
		if accepted.Valid {
			b.AcceptedByUserID = &accepted.String
		}
		p.Data = append(p.Data, b)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(p.Data) > 20 {
		p.Data = p.Data[:20]
		last := p.Data[19]
		p.NextCursor = base64.RawURLEncoding.EncodeToString([]byte(last.CreatedAt.Format(time.RFC3339Nano) + " " + last.ID.String()))
	}
	return p, nil
}

// bareInvite is the JSON of an invite as a hand-written handler would
// keep it: a plain struct, acceptedByUserId null until accepted.
type bareInvite struct {
	plainInvite
	AcceptedByUserID *string `json:"acceptedByUserId"`
}

type plainInvite invites.Invite

// timeCol scans timestamptz or SQLite's time text.
type timeCol struct{ t *time.Time }

func (c timeCol) Scan(v any) error {
	switch v := v.(type) {
	case time.Time:
		*c.t = v
		return nil
	case string:
		t, err := time.Parse(sqliteTime, v)
		*c.t = t
		return err
	}
	return fmt.Errorf("time column of type %T", v)
}

// bareAddressLimitUses: an address's invites, then their events.
var bareAddressLimitUses = schemacheck.Uses{
	Reads: map[string][]string{"invites": {"id", "tenant_id", "email_norm"}, "invites_events": {"invite_id", "type", "at"}},
	Indexes: []schemacheck.Index{
		{Name: "invites_tenant_email_idx", Table: "invites", Columns: []string{"tenant_id", "email_norm", "id"}},
		{Name: "invites_events_invite_idx", Table: "invites_events", Columns: []string{"invite_id", "id"}},
	},
}

// pendingEmailKey keeps one pending invite per address and tenant.
var pendingEmailKey = schemacheck.Index{Name: "invites_pending_email_key", Table: "invites",
	Columns: []string{"tenant_id", "email_norm"}, Unique: true, Where: "status = 'pending'"}

// The bare side's INSERTs, each in the order of its values; their SQL
// names the columns through Into.
var (
	bareInvites = schemacheck.Insert{Table: "invites", Columns: []string{"id", "tenant_id", "email", "email_norm",
		"first_name", "last_name", "first_name_fold", "last_name_fold", "locale", "roles", "status",
		"status_updated_at", "expires_at", "send_count", "last_sent_at", "delivery_status", "latest_delivery_id",
		"created_by_user_id", "created_at", "updated_at"},
		Defaults: []string{"data", "token_digest", "delivery_error", "accepted_by_user_id", "by_host", "fixed_expiry"}}
	bareDeliveries = schemacheck.Insert{Table: "invites_deliveries", Columns: []string{"id", "invite_id", "tenant_id",
		"kind", "state", "attempt", "due_at", "created_at"},
		Defaults: []string{"last_error", "leased_until", "trace", "claim_id"}}
	bareEvents = schemacheck.Insert{Table: "invites_events", Columns: []string{"invite_id", "tenant_id", "type",
		"actor_id", "at", "due_at"},
		Defaults: []string{"id", "handled", "attempt"}}
)

// bareExpireUses: the address's pending invite past its expiry, by the
// index that keeps one per address, and its event.
var bareExpireUses = schemacheck.Uses{
	Inserts: []schemacheck.Insert{bareEvents},
	Reads: map[string][]string{"invites": {"id", "status", "status_updated_at", "updated_at", "expires_at",
		"tenant_id", "email_norm"}},
	Indexes: []schemacheck.Index{pendingEmailKey},
}

// bareInsertUses: the invite, the pending index deciding a conflict, its
// outbox row and event.
var bareInsertUses = schemacheck.Uses{
	Inserts: []schemacheck.Insert{bareInvites, bareDeliveries, bareEvents},
	Indexes: []schemacheck.Index{pendingEmailKey},
}

// send stores one invite in one transaction as the store must, the
// address's daily limit included (its delivery written as dropped, so
// ours's worker, sharing the schema, has only ours's email to send): the
// address's stale pending invite expires, the unique pending index
// decides, and the invite's outbox row and event go with it.
func (h *bareHandler) send(w http.ResponseWriter, r *http.Request, tenant string) (any, error) {
	var body struct {
		UserInvites []struct {
			Email     string          `json:"email"`
			FirstName string          `json:"firstName"`
			LastName  string          `json:"lastName"`
			Locale    string          `json:"locale"`
			Data      json.RawMessage `json:"data"`
			Roles     []string        `json:"roles"`
		} `json:"userInvites"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, httpadapter.DefaultMaxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil || len(body.UserInvites) != 1 {
		return nil, fmt.Errorf("bad body: %v", err)
	}
	it := body.UserInvites[0]
	if a, err := mail.ParseAddress(it.Email); err != nil || a.Name != "" {
		return nil, fmt.Errorf("bad email")
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	inv := invites.Invite{ID: uuid.Must(uuid.NewV7()), TenantID: tenant, Email: strings.TrimSpace(it.Email),
		Locale: "en-US", Roles: []string{"admin"}, Status: invites.StatusPending, StatusUpdatedAt: now,
		CreatedByUserID: "admin", ExpiresAt: now.Add(7 * 24 * time.Hour), SendCount: 1, LastSentAt: now,
		DeliveryStatus: invites.DeliveryQueued, CreatedAt: now, UpdatedAt: now}
	did := uuid.Must(uuid.NewV7())
	tx, err := h.db.BeginTx(r.Context(), nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	ctx := r.Context()
	// The address's daily limit (Config.MaxSendsPerAddressPerDay, on by
	// default): its lock, then its count.
	if h.pg {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('invites.address:' || length($1::text) || ':' || $1 || ':' || $2, 0))`,
			tenant, inv.EmailNorm()); err != nil {
			return nil, err
		}
	}
	var sends int
	if err := tx.QueryRowContext(ctx, h.q(`SELECT count(*) FROM invites AS i JOIN invites_events AS e ON e.invite_id = i.id
		WHERE i.tenant_id = ? AND i.email_norm = ? AND e.type IN ('created', 'resent') AND e.at > ?`),
		tenant, inv.EmailNorm(), h.at(now.Add(-24*time.Hour))).Scan(&sends); err != nil {
		return nil, err
	}
	if sends >= 10 { // Config.MaxSendsPerAddressPerDay by default
		return nil, fmt.Errorf("address limit")
	}
	// The address's pending invite past its expiry gives way, with its event.
	stale, err := tx.QueryContext(ctx, h.q(`UPDATE invites SET status = 'expired', status_updated_at = expires_at,
		updated_at = ? WHERE tenant_id = ? AND email_norm = ? AND status = 'pending' AND expires_at <= ?
		RETURNING id, expires_at`), h.at(now), tenant, inv.EmailNorm(), h.at(now))
	if err != nil {
		return nil, err
	}
	var expired []any
	for stale.Next() {
		var id string
		var exp any
		if err := stale.Scan(&id, &exp); err != nil {
			return nil, err
		}
		expired = append(expired, id, exp)
	}
	if err := stale.Close(); err != nil {
		return nil, err
	}
	for i := 0; i < len(expired); i += 2 {
		if _, err := tx.ExecContext(ctx, h.q(`INSERT INTO `+bareEvents.Into()+`
			VALUES (?, ?, 'expired', '', ?, ?)`), expired[i], tenant, expired[i+1], expired[i+1]); err != nil {
			return nil, err
		}
	}
	// One pending invite per address: a conflict stores nothing.
	var stored string
	err = tx.QueryRowContext(ctx, h.q(`INSERT INTO `+bareInvites.Into()+` VALUES (?, ?, ?, ?, '', '', '', '', ?, ?, 'pending', ?, ?, 1, ?, 'queued', ?, ?, ?, ?)
		ON CONFLICT (tenant_id, email_norm) WHERE status = 'pending' DO NOTHING RETURNING id`),
		inv.ID.String(), tenant, inv.Email, inv.EmailNorm(), inv.Locale, `["admin"]`, h.at(now),
		h.at(inv.ExpiresAt), h.at(now), did.String(), inv.CreatedByUserID, h.at(now), h.at(now)).Scan(&stored)
	if err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, h.q(`INSERT INTO `+bareDeliveries.Into()+` VALUES (?, ?, ?, 'invitation', 'dropped', 0, ?, ?)`),
		did.String(), inv.ID.String(), tenant, h.at(now), h.at(now)); err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, h.q(`INSERT INTO `+bareEvents.Into()+`
		VALUES (?, ?, 'created', ?, ?, ?)`), inv.ID.String(), tenant, inv.CreatedByUserID, h.at(now), h.at(now)); err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	return map[string]any{"success": []bareInvite{{plainInvite: plainInvite(inv)}}, "errors": []invites.ItemError{}}, nil
}
