package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
)

// The suppression list (issue 24): a hard bounce suppresses an address
// for its tenant, a complaint for every tenant; Send and Resend refuse it
// in the store's transaction; Unsuppress lifts it; Forget does not.
var suppressCases = []testCase{
	{"Suppress/SendAndResend", testSuppressSendAndResend},
	{"Suppress/ComplaintAllTenants", testSuppressComplaintAllTenants},
	{"Suppress/Widens", testSuppressWidens},
	{"Suppress/InsertQuota", testSuppressInsertQuota},
	{"Suppress/SurvivesForget", testSuppressSurvivesForget},
	{"Race/SuppressAndSend", testRaceSuppressAndSend},
}

// suppressionKey keys the suppression list of the cases' writes, under the
// secret of their Services.
func suppressionKey(emailNorm string) []byte { return invites.SuppressionKey(ledgerSecret, emailNorm) }

// sendOne sends email as tenant's admin through svc and returns the item's
// error code, "" when it was stored.
func sendOne(t *testing.T, svc *invites.Service, tenant, email string) string {
	t.Helper()
	res, err := svc.Send(t.Context(), as(tenant), []invites.NewInvite{{Email: email}})
	if err != nil {
		t.Fatalf("Send(%s, %s): %v", tenant, email, err)
	}
	if len(res.Errors) > 0 {
		return res.Errors[0].Code
	}
	return ""
}

// wantSend fails unless sending email as tenant answers the item code
// want ("" for stored).
func wantSend(t *testing.T, svc *invites.Service, tenant, email, want string) {
	t.Helper()
	if got := sendOne(t, svc, tenant, email); got != want {
		t.Fatalf("Send(%s, %s) answered item code %q, want %q", tenant, email, got, want)
	}
}

// unsuppress lifts tenant's suppression of email through svc, failing
// unless Unsuppress answers lifted.
func unsuppress(t *testing.T, svc *invites.Service, tenant, email string, lifted bool) {
	t.Helper()
	got, err := svc.Unsuppress(t.Context(), as(tenant), email)
	if err != nil || got != lifted {
		t.Fatalf("Unsuppress(%s, %s) = %v, %v; want %v", tenant, email, got, err, lifted)
	}
}

// wantSuppressions fails unless Stats counts n suppressions.
func wantSuppressions(t *testing.T, s invites.Store, n int) {
	t.Helper()
	if got := stats(t, s, t0).Suppressions; got != n {
		t.Fatalf("Stats.Suppressions = %d, want %d", got, n)
	}
}

// A hard bounce suppresses the address for its tenant only: a Send there
// is CodeSuppressed (ahead of the invite still pending), a Resend
// ErrSuppressed; another tenant sends. Unsuppress by the tenant lifts it,
// with its event on the invite that bounced, and only once.
func testSuppressSendAndResend(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	ctx := t.Context()
	c := sentEmails(t, s, "sr", 1)[0]
	email := "sr0@example.com"
	now := t0.Add(time.Hour)
	svc := rule.at(t, s, now)
	if err := svc.RecordBounce(ctx, c.ID.String(), true, "550 no such user"); err != nil {
		t.Fatal(err)
	}
	wantSuppressions(t, s, 1)
	wantSend(t, svc, tenantA, "SR0@Example.com", invites.CodeSuppressed)
	_, err := svc.Resend(ctx, as(tenantA), c.InviteID)
	wantIs(t, "Resend to a suppressed address", err, invites.ErrSuppressed)
	wantSend(t, svc, tenantB, email, "")

	// Another tenant's own suppression of the address stays when this
	// one lifts its.
	bs := claim(t, s, now, 10, lease)
	if len(bs) != 1 {
		t.Fatalf("claimed %d deliveries, want tenant B's one", len(bs))
	}
	complete(t, s, bs[0].Delivery, invites.DeliveryOutcome{Status: invites.DeliverySent, At: now})
	later := rule.at(t, s, now.Add(time.Hour))
	if err := later.RecordTenantBounce(ctx, tenantB, bs[0].ID.String(), true, "550"); err != nil {
		t.Fatal(err)
	}
	wantSuppressions(t, s, 2)
	unsuppress(t, later, tenantA, email, true)
	unsuppress(t, later, tenantA, email, false)
	wantSuppressions(t, s, 1)
	wantSend(t, later, tenantB, email, invites.CodeSuppressed)
	if _, err := later.Resend(ctx, as(tenantA), c.InviteID); err != nil {
		t.Fatalf("Resend after Unsuppress: %v", err)
	}
	history(t, s, tenantA, c.InviteID, ev{invites.EventCreated, "inviter", t0}, ev{invites.EventSent, "", t0},
		ev{invites.EventBounced, "", now}, ev{invites.EventSuppressed, "", now},
		ev{invites.EventUnsuppressed, as(tenantA).UserID, now.Add(time.Hour)}, ev{invites.EventResent, as(tenantA).UserID, now.Add(time.Hour)})
}

// A complaint suppresses the address for every tenant, leaves the
// delivery as sent, is told once, and is lifted only by its own tenant.
func testSuppressComplaintAllTenants(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	ctx := t.Context()
	c := sentEmails(t, s, "ct", 1)[0]
	email := "ct0@example.com"
	now := t0.Add(time.Hour)
	svc := rule.at(t, s, now)
	wantIs(t, "a complaint scoped to another tenant",
		svc.RecordTenantComplaint(ctx, tenantB, c.ID.String(), "spam"), invites.ErrNotFound)
	wantSend(t, svc, tenantB, email, "")
	for range 2 {
		if err := svc.RecordTenantComplaint(ctx, tenantA, c.ID.String(), "abuse report"); err != nil {
			t.Fatal(err)
		}
	}
	if got := get(t, s, tenantA, c.InviteID); got.DeliveryStatus != invites.DeliverySent {
		t.Fatalf("after a complaint the delivery is %s, want it sent still", got.DeliveryStatus)
	}
	history(t, s, tenantA, c.InviteID, ev{invites.EventCreated, "inviter", t0}, ev{invites.EventSent, "", t0},
		ev{invites.EventSuppressed, "", now})
	wantSuppressions(t, s, 1)
	wantSend(t, svc, tenantB, "other@example.com", "")
	wantSend(t, svc, "initech", email, invites.CodeSuppressed)
	unsuppress(t, svc, tenantB, email, false)
	unsuppress(t, svc, tenantA, email, true)
	wantSend(t, svc, "initech", email, "")
	wantSuppressions(t, s, 0)
}

// A complaint after a hard bounce widens the tenant's suppression to
// every tenant: one suppression, an event for each.
func testSuppressWidens(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	ctx := t.Context()
	c := sentEmails(t, s, "wd", 1)[0]
	email := "wd0@example.com"
	now := t0.Add(time.Hour)
	svc := rule.at(t, s, now)
	if err := svc.RecordBounce(ctx, c.ID.String(), true, "550"); err != nil {
		t.Fatal(err)
	}
	if err := svc.RecordBounce(ctx, c.ID.String(), false, "mailbox full"); err != nil {
		t.Fatal(err)
	}
	wantSend(t, svc, tenantB, email, "")
	later := rule.at(t, s, now.Add(time.Minute))
	if err := later.RecordComplaint(ctx, c.ID.String(), "spam"); err != nil {
		t.Fatal(err)
	}
	wantSuppressions(t, s, 1)
	wantSend(t, later, "initech", email, invites.CodeSuppressed)
	history(t, s, tenantA, c.InviteID, ev{invites.EventCreated, "inviter", t0}, ev{invites.EventSent, "", t0},
		ev{invites.EventBounced, "", now}, ev{invites.EventSuppressed, "", now}, ev{invites.EventSuppressed, "", now.Add(time.Minute)})
}

// Insert takes the suppressions as data: a suppressed invite is not
// stored, whatever else holds its address, and counts against no quota.
func testSuppressInsertQuota(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	c := sentEmails(t, s, "iq", 1)[0]
	svc := rule.at(t, s, t0)
	if err := svc.RecordBounce(t.Context(), c.ID.String(), true, "550"); err != nil {
		t.Fatal(err)
	}
	if _, err := cancelIn(t.Context(), s, tenantA, c.InviteID, t0); err != nil {
		t.Fatal(err)
	}
	batch := []invites.Invite{newInvite(tenantA, "iq0@example.com", t0), newInvite(tenantA, "fresh@example.com", t0)}
	res, err := s.Insert(t.Context(), invites.InsertParams{Now: t0, Invites: batch, LedgerKey: ledgerKey,
		SuppressionKey: suppressionKey, Quota: invites.Quota{MaxPending: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if !res[0].Suppressed || res[0].Invite.ID != uuid.Nil || res[1].Invite.ID != batch[1].ID {
		t.Fatalf("Insert of a suppressed address and a fresh one under MaxPending 1 = %+v, want Suppressed and stored", res)
	}
}

// Forget erases the address's invites, not its suppression: a Send after
// it is still refused, and Unsuppress still lifts it, telling the erased
// invite's id to ClaimEvents.
func testSuppressSurvivesForget(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	needUpkeep(t, s)
	ctx := t.Context()
	c := sentEmails(t, s, "sf", 1)[0]
	email := "sf0@example.com"
	now := t0.Add(time.Hour)
	svc := rule.at(t, s, now)
	if err := svc.RecordBounce(ctx, c.ID.String(), true, "550"); err != nil {
		t.Fatal(err)
	}
	if ids, err := svc.Forget(ctx, as(tenantA), email); err != nil || len(ids) != 1 {
		t.Fatalf("Forget = %v, %v; want the one invite", ids, err)
	}
	wantSend(t, svc, tenantA, email, invites.CodeSuppressed)
	wantSuppressions(t, s, 1)
	handleAll(t, s, now)
	unsuppress(t, svc, tenantA, email, true)
	es := claimEvents(t, s, now, 10)
	if len(es) != 1 || es[0].Type != invites.EventUnsuppressed || es[0].InviteID != c.InviteID || es[0].TenantID != tenantA ||
		es[0].ActorID != as(tenantA).UserID || !sameTime(es[0].At, now) {
		t.Fatalf("after Unsuppress of an erased invite's address, ClaimEvents = %+v; want its EventUnsuppressed", es)
	}
	wantSend(t, svc, tenantA, email, "")
}

// A hard bounce and a Send to its address racing, round after round: the
// Send is stored (it came first) or refused as suppressed, never an
// error; after both the address is suppressed; and a complaint racing the
// bounce leaves one suppression of the pair, for every tenant, counted
// once.
func testRaceSuppressAndSend(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	ctx := t.Context()
	const rounds = 20
	var cs []claimed
	for k := range rounds / 10 { // sentEmails claims up to 10
		cs = append(cs, sentEmails(t, s, fmt.Sprintf("race%d-", k), 10)...)
	}
	now := t0.Add(time.Hour)
	svc := rule.at(t, s, now)
	for _, c := range cs {
		if _, err := svc.Cancel(ctx, as(tenantA), c.InviteID); err != nil {
			t.Fatal(err)
		}
	}
	outcomes := map[string]int{}
	for i, c := range cs {
		email := fmt.Sprintf("race%d-%d@example.com", i/10, i%10)
		var (
			wg            sync.WaitGroup
			code          string
			bounce, compl error
			sendErr       error
		)
		wg.Add(3)
		go func() {
			defer wg.Done()
			bounce = svc.RecordBounce(ctx, c.ID.String(), true, "550")
		}()
		go func() {
			defer wg.Done()
			compl = svc.RecordComplaint(ctx, c.ID.String(), "spam")
		}()
		go func() {
			defer wg.Done()
			var res invites.SendResult
			res, sendErr = svc.Send(ctx, as(tenantA), []invites.NewInvite{{Email: email}})
			if sendErr == nil && len(res.Errors) > 0 {
				code = res.Errors[0].Code
			}
		}()
		wg.Wait()
		if bounce != nil || compl != nil || sendErr != nil {
			t.Fatalf("round %d: RecordBounce %v, RecordComplaint %v, Send %v", i, bounce, compl, sendErr)
		}
		if code != "" && code != invites.CodeSuppressed {
			t.Fatalf("round %d: Send racing a bounce answered %q, want stored or %q", i, code, invites.CodeSuppressed)
		}
		outcomes[code]++
		wantSend(t, svc, tenantB, email, invites.CodeSuppressed)
		if n := len(historyOfType(t, s, c.InviteID, invites.EventSuppressed)); n < 1 || n > 2 {
			t.Fatalf("round %d: %d suppressed events, want one or two (a bounce, then a complaint)", i, n)
		}
	}
	wantSuppressions(t, s, rounds)
	t.Logf("sends stored / suppressed: %d / %d", outcomes[""], outcomes[invites.CodeSuppressed])
}

// historyOfType returns tenantA's invite id's events of type typ.
func historyOfType(t *testing.T, s invites.Store, id uuid.UUID, typ invites.EventType) []invites.Event {
	t.Helper()
	var out []invites.Event
	for _, e := range historyOf(t, s, invites.Invite{ID: id, TenantID: tenantA}) {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}
