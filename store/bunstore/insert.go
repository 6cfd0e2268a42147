package bunstore

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
	"github.com/uptrace/bun"
)

// insertCols are the columns Insert writes, in the order sqliteInsert and
// pgInsert give their values.
const insertCols = "id, tenant_id, email, email_norm, first_name, last_name, first_name_fold, last_name_fold, " +
	"locale, data, roles, status, " +
	"status_updated_at, expires_at, send_count, last_sent_at, delivery_status, delivery_error, " +
	"latest_delivery_id, created_by_user_id, created_at, updated_at, by_host, fixed_expiry"

// insertRetries bounds how often Insert retries the invites whose blocking
// invite left pending between its INSERT and its read of the blockers.
const insertRetries = 8

// Insert implements invites.Store in one transaction of a fixed number of
// statements, whatever the batch size: expire the stale pending invites of
// the batch's addresses, insert every invite with ON CONFLICT DO NOTHING
// (on PostgreSQL, with the outbox rows and events of those stored), read
// the pending invites that blocked the rest, (on SQLite) queue the
// outbox rows and write the events, and write the sends to the ledger. A
// quota adds its locks, its counts before the INSERT, and the removal of
// the invites beyond it.
func (s *Store) Insert(ctx context.Context, p invites.InsertParams) (_ []invites.InsertResult, err error) {
	defer s.settle(&err)
	s.ready(ctx)
	if len(p.Invites) == 0 && p.Idempotency == nil {
		return nil, nil
	}
	if p.LedgerKey == nil {
		return nil, errNoLedgerKey
	}
	now, q, trace := p.Now, p.Quota, traceText(p.Trace)
	rows := make([]invites.Invite, len(p.Invites))
	dids := make([]uuid.UUID, len(p.Invites))
	for i, inv := range p.Invites {
		if inv.ID == uuid.Nil {
			return nil, errors.New("bunstore: an invite to insert has no ID")
		}
		if d, ok := p.LinkDigests[inv.ID]; ok && len(d) == 0 {
			return nil, errors.New("bunstore: empty token digest")
		}
		inv.Roles = append([]string(nil), inv.Roles...)
		inv.Data = append([]byte(nil), inv.Data...)
		did, err := uuid.NewV7()
		if err != nil {
			return nil, err
		}
		dids[i] = did
		// As the database keeps them, so the results are as stored.
		for _, t := range []*time.Time{&inv.CreatedAt, &inv.UpdatedAt, &inv.StatusUpdatedAt, &inv.ExpiresAt, &inv.LastSentAt} {
			*t = time.Time(at(*t))
		}
		rows[i] = inv
	}

	keys := make([][2]string, len(rows))
	tenants := make([]string, len(rows))
	sends := make(keyTable, len(rows))
	var suppressions keyTable // of each row, when p has the key
	for i, r := range rows {
		keys[i] = [2]string{r.TenantID, r.EmailNorm()}
		tenants[i] = r.TenantID
		sends[i] = keyRow{r.TenantID, p.LedgerKey(r.EmailNorm())}
		if p.SuppressionKey != nil {
			suppressions = append(suppressions, keyRow{r.TenantID, p.SuppressionKey(r.EmailNorm())})
		}
	}
	lock, lockArgs := s.batchAddresses(0, keys)
	lock = addressLocks("SELECT t, n FROM "+lock+" AS b", q.MaxSendsPerAddressPerDayAllTenants > 0)
	stale, staleArgs := s.batchAddresses(2, keys)
	stale = expireAddresses(stale)
	s.warm(ctx, stale, pgInsert, pgRecordSends)
	if addressLimited(q) {
		count, _ := s.batchKeys(1, sends)
		s.warm(ctx, lock, addressCount(count))
	}
	if len(suppressions) > 0 {
		from, _ := s.batchKeys(0, suppressions)
		s.warm(ctx, suppressedKeys(from))
	}
	res := make([]invites.InsertResult, len(p.Invites))
	var host error // from Answer: returned as it is
	err = s.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		clear(res) // from a try that lost a prepared statement
		host = nil
		if err := takeKey(ctx, tx, p.Idempotency, now); err != nil {
			return err
		}
		if len(rows) == 0 {
			return keepAnswer(ctx, tx, p.Idempotency, p.Answer, slices.Clone(res), &host)
		}
		if err := s.lockQuotas(ctx, tx, q, tenants...); err != nil {
			return err
		}
		if addressLimited(q) && s.pg {
			if err := s.execIn(ctx, tx, lock, lockArgs...); err != nil {
				return err
			}
		}
		if err := s.expireStale(ctx, tx, now, stale, staleArgs); err != nil {
			return err
		}
		var b quotaBudget
		if q != (invites.Quota{}) {
			var err error
			if b, err = s.budget(ctx, tx, q, rows, now, sends); err != nil {
				return err
			}
		}

		barred, err := s.suppressed(ctx, tx, suppressions)
		if err != nil {
			return err
		}
		todo := make([]int, 0, len(rows)) // indexes of rows not yet stored or blocked
		for i := range rows {
			if len(suppressions) > 0 && barred[sendKey{suppressions[i].tenant, string(suppressions[i].key)}] {
				res[i].Suppressed = true
				continue
			}
			todo = append(todo, i)
		}
		var stored []int
		for try := 0; len(todo) > 0; try++ {
			if try == insertRetries {
				return errors.New("pending invites of the batch's addresses kept changing; try again")
			}
			ok, err := s.insertRows(ctx, tx, now, trace, rows, dids, todo, p.FixedExpiry)
			if err != nil {
				return err
			}
			var blocked []int
			for _, i := range todo {
				if ok[rows[i].ID] {
					stored = append(stored, i)
					res[i].Invite = rows[i]
				} else {
					blocked = append(blocked, i)
				}
			}
			if todo, err = s.readBlockers(ctx, tx, rows, blocked, res); err != nil {
				return err
			}
		}
		if q != (invites.Quota{}) {
			slices.Sort(stored) // the quota takes the batch's first
			var err error
			if stored, err = s.dropOverQuota(ctx, tx, b, rows, stored, res); err != nil {
				return err
			}
		}
		if err := s.queueInvitations(ctx, tx, now, trace, rows, dids, stored); err != nil {
			return err
		}
		if err := storeLinks(ctx, tx, rows, dids, stored, p.LinkDigests); err != nil {
			return err
		}
		ledger := make([]send, len(stored))
		for n, i := range stored {
			ledger[n] = send{rows[i].TenantID, rows[i].CreatedByUserID, sends[i].key}
		}
		if err := s.recordSends(ctx, tx, now, ledger); err != nil {
			return err
		}
		return keepAnswer(ctx, tx, p.Idempotency, p.Answer, slices.Clone(res), &host)
	})
	if err := keyedErr(host, err); err != nil {
		return nil, err
	}
	return res, nil
}

// insertRows inserts rows[todo] in one statement and returns the ids
// stored; the others met a pending invite of their address.
func (s *Store) insertRows(ctx context.Context, tx bun.Tx, now time.Time, trace string, rows []invites.Invite, dids []uuid.UUID, todo []int, fixed map[uuid.UUID]bool) (map[uuid.UUID]bool, error) {
	stmt, args := sqliteInsert(rows, dids, todo, fixed)
	if s.pg {
		js, err := pgBatch(rows, dids, todo, fixed)
		if err != nil {
			return nil, err
		}
		stmt, args = pgInsert, []any{js, at(now), trace}
	}
	ok := make(map[uuid.UUID]bool, len(todo))
	err := s.queryIn(ctx, tx, stmt, args, func(r scanner) error {
		var id uuid.UUID
		if err := r.Scan(&id); err != nil {
			return err
		}
		ok[id] = true
		return nil
	})
	return ok, err
}

// expireAddresses is the statement marking expired the pending invites
// of the addresses of from (numbered from 2) whose expiry is not after ?0,
// at ?1.
func expireAddresses(from string) string {
	return `UPDATE invites SET status = 'expired', status_updated_at = expires_at, updated_at = ?1
		WHERE status = 'pending' AND expires_at <= ?0 AND (tenant_id, email_norm) IN (SELECT t, n FROM ` + from + ` AS a)
		RETURNING id, tenant_id, expires_at`
}

// expireStale runs stale, an expireAddresses statement, and writes the
// EventExpired of each invite it marked.
func (s *Store) expireStale(ctx context.Context, tx bun.Tx, now time.Time, stale string, args []any) error {
	var evs []event
	err := s.queryIn(ctx, tx, stale, append([]any{at(now), at(now)}, args...), func(r scanner) error {
		var (
			e   event
			exp ts
		)
		if err := r.Scan(&e.invite, &e.tenant, &exp); err != nil {
			return err
		}
		e.typ, e.at = invites.EventExpired, time.Time(exp)
		evs = append(evs, e)
		return nil
	})
	if err != nil {
		return err
	}
	return writeEvents(ctx, tx, evs)
}

// onConflict skips an invite whose address has a pending invite already.
const onConflict = " ON CONFLICT (tenant_id, email_norm) WHERE status = 'pending' DO NOTHING"

// sqliteInsert is one multi-row INSERT ... VALUES.
func sqliteInsert(rows []invites.Invite, dids []uuid.UUID, todo []int, fixed map[uuid.UUID]bool) (string, []any) {
	args := make([]any, 0, len(todo)*24)
	for _, i := range todo {
		r := &rows[i]
		args = append(args, r.ID, r.TenantID, r.Email, r.EmailNorm(), r.FirstName, r.LastName,
			fold(r.FirstName), fold(r.LastName), r.Locale, jsonText(r.Data), roleList(r.Roles), string(r.Status),
			at(r.StatusUpdatedAt), at(r.ExpiresAt), r.SendCount, at(r.LastSentAt), deliveryText(r.DeliveryStatus), r.DeliveryError,
			dids[i], r.CreatedByUserID, at(r.CreatedAt), at(r.UpdatedAt), r.DeliveryStatus == invites.DeliveryHost, fixed[r.ID])
	}
	return values("INSERT INTO invites ("+insertCols+") VALUES ",
		"(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", len(todo)) +
		onConflict + " RETURNING id", args
}

// values is head and then n copies of tuple, comma-separated: the SQL of
// a multi-row INSERT ... VALUES.
func values(head, tuple string, n int) string {
	var q strings.Builder
	q.Grow(len(head) + n*(len(tuple)+2))
	q.WriteString(head)
	for i := range n {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString(tuple)
	}
	return q.String()
}

// pgRow is an invite as pgInsert hands it to jsonb_to_recordset.
type pgRow struct {
	ID              uuid.UUID       `json:"id"`
	TenantID        string          `json:"tenant_id"`
	Email           string          `json:"email"`
	EmailNorm       string          `json:"email_norm"`
	FirstName       string          `json:"first_name"`
	LastName        string          `json:"last_name"`
	FirstFold       string          `json:"first_name_fold"`
	LastFold        string          `json:"last_name_fold"`
	Locale          string          `json:"locale"`
	Data            json.RawMessage `json:"data"`
	Roles           []string        `json:"roles"`
	Status          string          `json:"status"`
	StatusUpdatedAt time.Time       `json:"status_updated_at"`
	ExpiresAt       time.Time       `json:"expires_at"`
	SendCount       int             `json:"send_count"`
	LastSentAt      time.Time       `json:"last_sent_at"`
	DeliveryStatus  string          `json:"delivery_status"`
	DeliveryError   string          `json:"delivery_error"`
	LatestDelivery  uuid.UUID       `json:"latest_delivery_id"`
	CreatedBy       string          `json:"created_by_user_id"`
	CreatedAt       time.Time       `json:"created_at"`
	UpdatedAt       time.Time       `json:"updated_at"`
	ByHost          bool            `json:"by_host"`
	FixedExpiry     bool            `json:"fixed_expiry"`
}

// pgBatch is the batch as one JSON document, for pgInsert.
func pgBatch(rows []invites.Invite, dids []uuid.UUID, todo []int, fixed map[uuid.UUID]bool) (string, error) {
	batch := make([]pgRow, len(todo))
	for n, i := range todo {
		r := &rows[i]
		var data json.RawMessage
		if !jsonText(r.Data).none() {
			data = r.Data
		}
		batch[n] = pgRow{r.ID, r.TenantID, r.Email, r.EmailNorm(), r.FirstName, r.LastName,
			fold(r.FirstName), fold(r.LastName), r.Locale, data, append([]string{}, r.Roles...), string(r.Status),
			r.StatusUpdatedAt, r.ExpiresAt, r.SendCount, r.LastSentAt, deliveryText(r.DeliveryStatus), r.DeliveryError,
			dids[i], r.CreatedByUserID, r.CreatedAt, r.UpdatedAt, r.DeliveryStatus == invites.DeliveryHost, fixed[r.ID]}
	}
	js, err := json.Marshal(batch)
	return string(js), err
}

// pgInsert takes the batch as one JSON document (pgBatch) read by
// jsonb_to_recordset: PostgreSQL plans a VALUES list of thousands of
// literals slowly, and one value quickly; and
// its text is the same for any batch, so it runs prepared. The outbox
// rows and events, at ?1, come from the rows inserted, in the same
// statement; the outbox rows keep the trace ?2.
const pgInsert = `WITH ins AS (INSERT INTO invites (` + insertCols + `)
		SELECT ` + insertCols + `
		FROM jsonb_to_recordset(CAST(?0 AS jsonb)) AS r(id uuid, tenant_id text, email text, email_norm text,
			first_name text, last_name text, first_name_fold text, last_name_fold text, locale text,
			data jsonb, roles jsonb, status text, status_updated_at timestamptz, expires_at timestamptz,
			send_count integer, last_sent_at timestamptz, delivery_status text, delivery_error text,
			latest_delivery_id uuid, created_by_user_id text,
			created_at timestamptz, updated_at timestamptz, by_host boolean, fixed_expiry boolean)` + onConflict + `
		RETURNING id, tenant_id, latest_delivery_id, created_by_user_id, by_host),
	outbox AS (` + queueFromInserted + `),
	events AS (INSERT INTO invites_events (` + eventCols + `)
		SELECT id, tenant_id, 'created', created_by_user_id, CAST(?1 AS timestamptz), CAST(?1 AS timestamptz) FROM ins)
	SELECT id FROM ins`

// readBlockers sets Existing on the results of rows[blocked] from the
// pending invites of their addresses, and returns those whose blocker has
// left pending since (accepted, say, by a transaction that committed after
// the INSERT looked): they may be stored after all.
func (s *Store) readBlockers(ctx context.Context, tx bun.Tx, rows []invites.Invite, blocked []int, res []invites.InsertResult) ([]int, error) {
	if len(blocked) == 0 {
		return nil, nil
	}
	keys := make(pairs, len(blocked))
	for n, i := range blocked {
		keys[n] = [2]string{rows[i].TenantID, rows[i].EmailNorm()}
	}
	q, err := on(tx).QueryContext(ctx, `SELECT id, tenant_id, email_norm FROM invites
		WHERE status = 'pending' AND (tenant_id, email_norm) IN ?`, keys)
	if err != nil {
		return nil, err
	}
	defer q.Close()
	holder := make(map[[2]string]uuid.UUID, len(blocked))
	for q.Next() {
		var (
			id uuid.UUID
			k  [2]string
		)
		if err := q.Scan(&id, &k[0], &k[1]); err != nil {
			return nil, err
		}
		holder[k] = id
	}
	if err := q.Err(); err != nil {
		return nil, err
	}
	var again []int
	for n, i := range blocked {
		if id, ok := holder[keys[n]]; ok {
			res[i].Existing = id
		} else {
			again = append(again, i)
		}
	}
	return again, nil
}

// queueFromInserted writes the outbox rows of the invites of the CTE ins.
const queueFromInserted = `INSERT INTO invites_deliveries (id, invite_id, tenant_id, kind, state, attempt, due_at, created_at, trace)
	SELECT latest_delivery_id, id, tenant_id, 'invitation', 'queued', 0, CAST(?1 AS timestamptz), CAST(?1 AS timestamptz), CAST(?2 AS text)
	FROM ins WHERE NOT by_host`

// queueInvitations writes the outbox rows and the events of the stored
// invites, a statement each, on SQLite, whose INSERT cannot be a CTE of
// another; on PostgreSQL insertRows has written them.
func (s *Store) queueInvitations(ctx context.Context, tx bun.Tx, now time.Time, trace string, rows []invites.Invite, dids []uuid.UUID, stored []int) error {
	if len(stored) == 0 || s.pg {
		return nil
	}
	evs := make([]event, len(stored))
	for n, i := range stored {
		evs[n] = event{rows[i].ID, rows[i].TenantID, invites.EventCreated, rows[i].CreatedByUserID, now}
	}
	if err := writeEvents(ctx, tx, evs); err != nil {
		return err
	}
	args := make([]any, 0, len(stored)*6)
	n := 0
	for _, i := range stored {
		if rows[i].DeliveryStatus != invites.DeliveryHost {
			args = append(args, dids[i], rows[i].ID, rows[i].TenantID, at(now), at(now), trace)
			n++
		}
	}
	if n == 0 {
		return nil
	}
	_, err := on(tx).ExecContext(ctx, values("INSERT INTO invites_deliveries (id, invite_id, tenant_id, kind, state, attempt, due_at, created_at, trace) VALUES ",
		"(?, ?, ?, 'invitation', 'queued', 0, ?, ?, ?)", n), args...)
	return err
}

// storeLinks writes the tokens of the stored invites the host delivers
// (digests, by invite ID), each under its invite's latest_delivery_id,
// which no delivery row has: the token routes find the invite through it.
func storeLinks(ctx context.Context, tx bun.Tx, rows []invites.Invite, dids []uuid.UUID, stored []int, digests map[uuid.UUID][]byte) error {
	var args []any
	for _, i := range stored {
		if d, ok := digests[rows[i].ID]; ok {
			args = append(args, d, rows[i].ID, dids[i])
		}
	}
	if len(args) == 0 {
		return nil
	}
	_, err := on(tx).ExecContext(ctx, values("INSERT INTO invites_tokens (digest, invite_id, delivery_id) VALUES ", "(?, ?, ?)", len(args)/3), args...)
	return err
}

// queueReminder supersedes the queued delivery of an invite with a new
// one, which keeps trace: only the latest delivery of an invite is ever
// queued.
func queueReminder(ctx context.Context, tx bun.Tx, inv invites.Invite, did uuid.UUID, now time.Time, trace string) error {
	if err := supersede(ctx, tx, inv.ID); err != nil {
		return err
	}
	_, err := on(tx).ExecContext(ctx, `INSERT INTO invites_deliveries
		(id, invite_id, tenant_id, kind, state, attempt, due_at, created_at, trace)
		VALUES (?, ?, ?, 'reminder', 'queued', 0, ?, ?, ?)`, did, inv.ID, inv.TenantID, at(now), at(now), traceText(trace))
	return err
}

// supersede ends the queued delivery of invite id, if any.
func supersede(ctx context.Context, tx bun.Tx, id uuid.UUID) error {
	_, err := on(tx).ExecContext(ctx, `UPDATE invites_deliveries SET state = 'superseded'
		WHERE invite_id = ? AND state = 'queued'`, id)
	return err
}

// traceText bounds a delivery's trace to invites.MaxTraceBytes, cut at a
// character's edge, as the Service does already.
func traceText(s string) string {
	n := invites.MaxTraceBytes
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
