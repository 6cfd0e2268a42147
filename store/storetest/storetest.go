// Package storetest is the conformance suite of invites.Store: the one set
// of tests every Store must pass, whatever keeps its data. It checks the
// contract written on invites.Store method by method (lifecycle, listing,
// the delivery outbox) and, with many goroutines really racing, the
// promises that only hold under concurrency: one winner of Accept against
// Cancel, one pending invite per address, bounded resends, and no delivery
// handed to two workers.
//
// A store author runs it from an ordinary test:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) invites.Store {
//			db := openTestDB(t) // e.g. a fresh schema, dropped in t.Cleanup
//			return mystore.New(db)
//		})
//	}
//
// newStore is called once per case (and once per sub-case of a table), from
// the goroutine of that case's test, and must return an empty store that
// shares no invites and no deliveries with any other store it returned:
// the cases run in parallel (t.Parallel), and ClaimDeliveries sees every
// tenant. Release what it opens with t.Cleanup. Run the suite with -race.
//
// All times are passed in explicitly from a fixed base (the Store takes now
// from its caller) and are whole microseconds, the precision of PostgreSQL.
// Returned times are compared with Equal after UTC and truncation to the
// microsecond, JSON data semantically (jsonb may reformat it), and roles
// with nil equal to empty.
//
// The rules (which refusal, in which order, what a quota allows) are the
// Service's: the cases of a rule run a Service on the store under test
// (with a clock they set), so each store still shows it hands the Service
// the right facts; the cases of Change's mechanics call Change with the
// params the Service would.
//
// The contract it checks is the one written, method by method, in the
// root package's store.go, including the details a first reading might
// take either way (which times an event carries, when a delivery is due,
// the order of text sorts): each is stated on the method it belongs to.
// A store that is no invites.UpkeepStore passes on the rest: the cases of
// Prune and Forget skip, saying so; as do the cases of links (Links/...
// and their races) on a store that is no invites.LinkStore.
package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
)

// t0 is the base time of every case; ttl the validity of a minted token.
var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

const (
	ttl   = 7 * 24 * time.Hour
	lease = time.Minute
)

// Tenants used by the cases.
const (
	tenantA = "acme"
	tenantB = "globex"
)

// as is the admin of tenant, the actor of the cases' writes.
func as(tenant string) invites.Actor {
	return invites.Actor{TenantID: tenant, UserID: "admin-" + tenant}
}

type testCase struct {
	name string
	run  func(t *testing.T, newStore func(*testing.T) invites.Store)
}

// Run runs the whole conformance suite against the stores newStore makes,
// one subtest per case (Insert/..., List/..., Delivery/..., Race/...), so
// -run can pick cases: go test -run 'TestConformance/Race/'.
func Run(t *testing.T, newStore func(t *testing.T) invites.Store) {
	t.Helper()
	groups := [][]testCase{lifecycleCases, resendCases, tokenCases, listCases, deliveryCases, concurrencyCases, eventCases, quotaCases, decideCases, changeCases, inputCases, addressLimitCases, upkeepCases, eraseCases, forgetCases, upkeepRaceCases, upkeepServiceCases, hostileCases, idempotencyCases, ledgerCases, hostLinkCases, linkCases, suppressCases}
	for _, g := range groups {
		for _, c := range g {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				c.run(t, newStore)
			})
		}
	}
}

// newInvite builds a pending invite of tenant to email stamped as
// Service.Send stamps it at now (Insert stores it as given); opts change it
// before it is returned.
func newInvite(tenant, email string, now time.Time, opts ...func(*invites.Invite)) invites.Invite {
	inv := invites.Invite{
		ID:              uuid.Must(uuid.NewV7()),
		TenantID:        tenant,
		Email:           email,
		FirstName:       "First",
		LastName:        "Last",
		Locale:          "en-US",
		Roles:           []string{"member"},
		Status:          invites.StatusPending,
		StatusUpdatedAt: now,
		CreatedByUserID: "inviter",
		ExpiresAt:       now.Add(ttl),
		SendCount:       1,
		LastSentAt:      now,
		DeliveryStatus:  invites.DeliveryQueued,
		CreatedAt:       now,
		UpdatedAt:       now,
	}
	for _, o := range opts {
		o(&inv)
	}
	return inv
}

// insert stores invs in one Insert call and fails the test on an error or
// a result count that does not match.
func insert(t *testing.T, s invites.Store, now time.Time, invs ...invites.Invite) []invites.InsertResult {
	t.Helper()
	res, err := s.Insert(t.Context(), invites.InsertParams{LedgerKey: ledgerKey, Now: now, Invites: invs})
	if err != nil {
		t.Fatalf("Insert(%d invites): %v", len(invs), err)
	}
	if len(res) != len(invs) {
		t.Fatalf("Insert(%d invites) returned %d results, want one per invite", len(invs), len(res))
	}
	return res
}

// insertOK stores invs and fails the test unless every one was stored; it
// returns the stored invites.
func insertOK(t *testing.T, s invites.Store, now time.Time, invs ...invites.Invite) []invites.Invite {
	t.Helper()
	res := insert(t, s, now, invs...)
	out := make([]invites.Invite, len(res))
	for i, r := range res {
		if r.Existing != uuid.Nil {
			t.Fatalf("Insert: invite %d (%s) was blocked by pending invite %s, want it stored", i, invs[i].Email, r.Existing)
		}
		out[i] = r.Invite
	}
	return out
}

// insertOne stores one invite and returns it as stored.
func insertOne(t *testing.T, s invites.Store, now time.Time, inv invites.Invite) invites.Invite {
	t.Helper()
	return insertOK(t, s, now, inv)[0]
}

// get returns an invite the test knows exists.
func get(t *testing.T, s invites.Store, tenant string, id uuid.UUID) invites.Invite {
	t.Helper()
	inv, err := s.Get(t.Context(), invites.GetParams{TenantID: tenant, ID: id})
	if err != nil {
		t.Fatalf("Get(%s, %s): %v", tenant, id, err)
	}
	return inv
}

// newDigest returns the digest of a fresh random token.
func newDigest(t *testing.T) []byte {
	t.Helper()
	d := sha256.Sum256([]byte(rand.Text()))
	return d[:]
}

// mintAll does what the delivery worker does with every delivery due at
// now: it claims them with a fresh token each and completes them as sent.
// It returns the digest set per invite.
func mintAll(t *testing.T, s invites.Store, now time.Time) map[uuid.UUID][]byte {
	t.Helper()
	cs := claim(t, s, now, 1000, lease)
	out := make(map[uuid.UUID][]byte, len(cs))
	for _, c := range cs {
		complete(t, s, c.Delivery, invites.DeliveryOutcome{Status: invites.DeliverySent, At: now})
		out[c.InviteID] = c.digest
	}
	return out
}

// mint runs mintAll and returns the digest of invite id, failing the test
// when no due delivery of that invite took a token.
func mint(t *testing.T, s invites.Store, now time.Time, id uuid.UUID) []byte {
	t.Helper()
	d, ok := mintAll(t, s, now)[id]
	if !ok {
		t.Fatalf("no delivery of invite %s was due and usable at %s", id, now)
	}
	return d
}

func okHook(context.Context, invites.Invite) error { return nil }

// wantIs fails the test unless errors.Is(err, target).
func wantIs(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want %v", what, err, target)
	}
}

// wantNotPending fails the test unless err is a *invites.NotPendingError
// carrying status that also matches invites.ErrNotPending.
func wantNotPending(t *testing.T, what string, err error, status invites.Status) {
	t.Helper()
	if msg := notPendingMismatch(err, status); msg != "" {
		t.Fatalf("%s: %s", what, msg)
	}
}

// notPendingMismatch says how err differs from a NotPendingError of
// status, or "" when it is one; goroutines use it with t.Errorf.
func notPendingMismatch(err error, status invites.Status) string {
	var np *invites.NotPendingError
	switch {
	case err == nil:
		return fmt.Sprintf("got no error, want *NotPendingError{%s}", status)
	case !errors.As(err, &np):
		return fmt.Sprintf("got error %v (%T), want *NotPendingError{%s}", err, err, status)
	case np.Status != status:
		return fmt.Sprintf("got *NotPendingError{%s}, want status %s", np.Status, status)
	case !errors.Is(err, invites.ErrNotPending):
		return "errors.Is(err, ErrNotPending) is false"
	}
	return ""
}

// sameTime compares times at the microsecond, zones aside.
func sameTime(a, b time.Time) bool {
	return a.UTC().Truncate(time.Microsecond).Equal(b.UTC().Truncate(time.Microsecond))
}

// sameJSON compares JSON values semantically; empty and null are the same.
func sameJSON(a, b json.RawMessage) bool {
	if isNullJSON(a) || isNullJSON(b) {
		return isNullJSON(a) && isNullJSON(b)
	}
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return bytes.Equal(a, b)
	}
	return reflect.DeepEqual(x, y)
}

func isNullJSON(m json.RawMessage) bool {
	return len(bytes.TrimSpace(m)) == 0 || string(bytes.TrimSpace(m)) == "null"
}

func sameRoles(a, b []string) bool { return len(a) == len(b) && (len(a) == 0 || slices.Equal(a, b)) }

// inviteDiff lists the fields in which got differs from want.
func inviteDiff(got, want invites.Invite) []string {
	var d []string
	add := func(field string, g, w any) { d = append(d, fmt.Sprintf("%s = %v, want %v", field, g, w)) }
	if got.ID != want.ID {
		add("ID", got.ID, want.ID)
	}
	for _, f := range []struct {
		name string
		g, w string
	}{
		{"TenantID", got.TenantID, want.TenantID}, {"Email", got.Email, want.Email},
		{"FirstName", got.FirstName, want.FirstName}, {"LastName", got.LastName, want.LastName},
		{"Locale", got.Locale, want.Locale}, {"Status", string(got.Status), string(want.Status)},
		{"CreatedByUserID", got.CreatedByUserID, want.CreatedByUserID},
		{"AcceptedByUserID", got.AcceptedByUserID, want.AcceptedByUserID},
		{"DeliveryStatus", string(got.DeliveryStatus), string(want.DeliveryStatus)},
		{"DeliveryError", got.DeliveryError, want.DeliveryError},
	} {
		if f.g != f.w {
			add(f.name, fmt.Sprintf("%q", f.g), fmt.Sprintf("%q", f.w))
		}
	}
	if !sameJSON(got.Data, want.Data) {
		add("Data", string(got.Data), string(want.Data))
	}
	if !sameRoles(got.Roles, want.Roles) {
		add("Roles", fmt.Sprintf("%q", got.Roles), fmt.Sprintf("%q", want.Roles))
	}
	if got.SendCount != want.SendCount {
		add("SendCount", got.SendCount, want.SendCount)
	}
	for _, f := range []struct {
		name string
		g, w time.Time
	}{
		{"StatusUpdatedAt", got.StatusUpdatedAt, want.StatusUpdatedAt}, {"ExpiresAt", got.ExpiresAt, want.ExpiresAt},
		{"LastSentAt", got.LastSentAt, want.LastSentAt}, {"CreatedAt", got.CreatedAt, want.CreatedAt},
		{"UpdatedAt", got.UpdatedAt, want.UpdatedAt},
	} {
		if !sameTime(f.g, f.w) {
			add(f.name, f.g.UTC().Format(time.RFC3339Nano), f.w.UTC().Format(time.RFC3339Nano))
		}
	}
	return d
}

// checkInvite fails the test when got differs from want in any field.
func checkInvite(t *testing.T, what string, got, want invites.Invite) {
	t.Helper()
	if d := inviteDiff(got, want); len(d) > 0 {
		t.Fatalf("%s: invite %s differs:\n\t%s", what, want.ID, joinLines(d))
	}
}

func joinLines(ls []string) string {
	var b bytes.Buffer
	for i, l := range ls {
		if i > 0 {
			b.WriteString("\n\t")
		}
		b.WriteString(l)
	}
	return b.String()
}
