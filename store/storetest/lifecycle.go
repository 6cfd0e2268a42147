package storetest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
)

var lifecycleCases = []testCase{
	{"Insert/StoresInOrder", testInsertStoresInOrder},
	{"Insert/AsGiven", testInsertAsGiven},
	{"Insert/ConflictSameAddress", testInsertConflict},
	{"Insert/OtherTenantSameAddress", testInsertOtherTenant},
	{"Insert/AfterExpiry", testInsertAfterExpiry},
	{"Get/NotFound", testGetNotFound},
	{"Get/RoundTrip", testRoundTrip},
	{"ReturnsCopies", testReturnsCopies},
	{"Update/Fields", testUpdateFields},
	{"Update/ByStatus", testUpdateByStatus},
	{"Update/NotFound", testUpdateNotFound},
	{"Cancel/ByStatus", testCancelByStatus},
	{"Cancel/NotFound", testCancelNotFound},
}

// prepared is an invite of tenantA brought to a state, its token digest,
// and a time at which it reads as that state.
type prepared struct {
	inv    invites.Invite
	digest []byte
	now    time.Time
}

// The states prepare can make. expired is a pending invite past its
// ExpiresAt; expiredStored one that Insert marked expired when the same
// address was invited again.
const (
	stPending       = "pending"
	stAccepted      = "accepted"
	stDeclined      = "declined"
	stCanceled      = "canceled"
	stExpired       = "expired"
	stExpiredStored = "expiredStored"
)

var allStates = []string{stPending, stAccepted, stDeclined, stCanceled, stExpired, stExpiredStored}

// readAs is the status an invite of state st reads as at its prepared now.
func readAs(st string) invites.Status {
	if st == stExpiredStored {
		return invites.StatusExpired
	}
	return invites.Status(st)
}

// prepare inserts and mints an invite to email at t0 (changed by opts)
// and moves it to st.
func prepare(t *testing.T, s invites.Store, email, st string, opts ...func(*invites.Invite)) prepared {
	t.Helper()
	ctx := t.Context()
	inv := insertOne(t, s, t0, newInvite(tenantA, email, t0, opts...))
	p := prepared{digest: mint(t, s, t0, inv.ID), now: t0.Add(time.Hour)}
	var err error
	switch st {
	case stPending:
	case stAccepted:
		_, err = accept(ctx, s, p.digest, "acceptor", t0.Add(time.Minute), okHook)
	case stDeclined:
		_, err = decline(ctx, s, p.digest, t0.Add(time.Minute))
	case stCanceled:
		_, err = cancelIn(ctx, s, tenantA, inv.ID, t0.Add(time.Minute))
	case stExpired:
		p.now = t0.Add(ttl + time.Hour)
	case stExpiredStored:
		insertOne(t, s, t0.Add(ttl), newInvite(tenantA, email, t0.Add(ttl)))
		p.now = t0.Add(ttl + time.Hour)
	default:
		t.Fatalf("prepare: unknown state %q", st)
	}
	if err != nil {
		t.Fatalf("prepare %s invite: %v", st, err)
	}
	p.inv = get(t, s, tenantA, inv.ID)
	if got := p.inv.StatusAt(p.now); got != readAs(st) {
		t.Fatalf("prepare %s invite: it reads as %s", st, got)
	}
	return p
}

func testInsertStoresInOrder(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	in := []invites.Invite{
		newInvite(tenantA, "c@example.com", t0),
		newInvite(tenantA, "a@example.com", t0),
		newInvite(tenantA, "b@example.com", t0),
	}
	res := insert(t, s, t0, in...)
	for i, r := range res {
		if r.Existing != uuid.Nil {
			t.Fatalf("result %d: Existing = %s, want the invite stored", i, r.Existing)
		}
		checkInvite(t, "Insert result", r.Invite, in[i])
		checkInvite(t, "Get after Insert", get(t, s, tenantA, in[i].ID), in[i])
	}
}

// Insert stores what the Service stamped, however unlike a fresh invite:
// a store stamps nothing of its own.
func testInsertAsGiven(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	now := t0.Add(time.Hour)
	in := []invites.Invite{
		newInvite(tenantA, "given@x.com", now, func(i *invites.Invite) {
			i.SendCount = 3
			i.LastSentAt = now.Add(-2 * time.Hour)
			i.StatusUpdatedAt = now.Add(-3 * time.Hour)
			i.CreatedAt = now.Add(-5 * time.Hour)
			i.UpdatedAt = now.Add(-4 * time.Hour)
			i.ExpiresAt = now.Add(90 * time.Minute)
			i.Locale = "fr-CA"
		}),
		newInvite(tenantA, "later@x.com", now, func(i *invites.Invite) {
			i.SendCount = 2
			i.LastSentAt = now.Add(time.Minute)
			i.StatusUpdatedAt = now.Add(2 * time.Minute)
			i.CreatedAt = now.Add(3 * time.Minute)
			i.UpdatedAt = now.Add(4 * time.Minute)
			i.ExpiresAt = now.Add(ttl + time.Minute)
		}),
	}
	stored := insertOK(t, s, now, in...)
	for i, want := range in {
		checkInvite(t, "Insert result of an invite stamped by the caller", stored[i], want)
		checkInvite(t, "Get of an invite stamped by the caller", get(t, s, tenantA, want.ID), want)
	}
}

func testInsertConflict(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	old := insertOne(t, s, t0, newInvite(tenantA, "bob@x.com", t0))
	now := t0.Add(time.Hour)
	in := []invites.Invite{
		newInvite(tenantA, "carol@x.com", now),
		newInvite(tenantA, " Bob@X.com ", now),
		newInvite(tenantA, "dave@x.com", now),
	}
	res := insert(t, s, now, in...)
	if res[1].Existing != old.ID {
		t.Fatalf("Insert of %q: Existing = %s, want the pending invite %s of bob@x.com", in[1].Email, res[1].Existing, old.ID)
	}
	for _, i := range []int{0, 2} {
		if res[i].Existing != uuid.Nil || res[i].Invite.ID != in[i].ID {
			t.Fatalf("result %d: got Existing %s, Invite %s; want invite %s stored", i, res[i].Existing, res[i].Invite.ID, in[i].ID)
		}
	}
	if _, err := s.Get(t.Context(), invites.GetParams{TenantID: tenantA, ID: in[1].ID}); err == nil {
		t.Fatalf("the blocked invite %s was stored", in[1].ID)
	} else {
		wantIs(t, "Get of the blocked invite", err, invites.ErrNotFound)
	}
	checkInvite(t, "the existing invite after a blocked Insert", get(t, s, tenantA, old.ID), old)
}

func testInsertOtherTenant(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	a := insertOne(t, s, t0, newInvite(tenantA, "same@x.com", t0))
	b := insertOne(t, s, t0, newInvite(tenantB, "SAME@x.com", t0))
	checkInvite(t, "tenant A's invite", get(t, s, tenantA, a.ID), a)
	checkInvite(t, "tenant B's invite", get(t, s, tenantB, b.ID), b)
}

func testInsertAfterExpiry(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	old := insertOne(t, s, t0, newInvite(tenantA, "eve@x.com", t0))

	before := old.ExpiresAt.Add(-time.Microsecond)
	res := insert(t, s, before, newInvite(tenantA, "Eve@x.com", before))
	if res[0].Existing != old.ID {
		t.Fatalf("Insert just before the old invite expires: Existing = %s, want %s", res[0].Existing, old.ID)
	}

	at := old.ExpiresAt // ExpiresAt not after now: expired
	fresh := insertOne(t, s, at, newInvite(tenantA, "eve@X.com", at))
	checkInvite(t, "the new invite", get(t, s, tenantA, fresh.ID), fresh)
	if got := get(t, s, tenantA, old.ID); got.Status != invites.StatusExpired {
		t.Fatalf("the old invite's stored Status = %s after a new invite replaced it at its expiry, want expired", got.Status)
	}
}

func testGetNotFound(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	inv := insertOne(t, s, t0, newInvite(tenantA, "a@x.com", t0))
	for _, c := range []struct {
		name   string
		tenant string
		id     uuid.UUID
	}{
		{"other tenant", tenantB, inv.ID},
		{"empty tenant", "", inv.ID},
		{"missing id", tenantA, uuid.Must(uuid.NewV7())},
		{"nil id", tenantA, uuid.Nil},
	} {
		_, err := s.Get(t.Context(), invites.GetParams{TenantID: c.tenant, ID: c.id})
		wantIs(t, "Get, "+c.name, err, invites.ErrNotFound)
	}
}

func testRoundTrip(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	full := newInvite(tenantA, "Zoë.Full@Example.com", t0, func(i *invites.Invite) {
		i.FirstName, i.LastName = "Zoë", "O'Brien-Łukasz"
		i.Locale = "de-AT"
		i.Data = json.RawMessage(`{"team": "blue", "seats": [1, 2.5], "nested": {"ok": true, "none": null}, "txt": "é\"<>"}`)
		i.Roles = []string{"admin", "billing", "viewer"}
		i.CreatedByUserID = "user-42"
		i.CreatedAt = t0.Add(-3 * time.Hour)
		i.UpdatedAt = t0.Add(-2 * time.Hour)
		i.StatusUpdatedAt = t0.Add(-3 * time.Hour)
		i.LastSentAt = t0 // as the Service sends it: the time of the Insert
		i.ExpiresAt = t0.Add(5 * 24 * time.Hour)
	})
	bare := newInvite(tenantA, "bare@example.com", t0, func(i *invites.Invite) {
		i.FirstName, i.LastName, i.Data, i.Roles = "", "", nil, []string{}
	})
	stored := insertOK(t, s, t0, full, bare)
	for i, want := range []invites.Invite{full, bare} {
		checkInvite(t, "Insert result", stored[i], want)
		checkInvite(t, "Get", get(t, s, tenantA, want.ID), want)
		email := want.Email
		list, _, err := s.List(t.Context(), invites.ListParams{TenantID: tenantA, Now: t0,
			Where: invites.Filter{Email: invites.StringFilter{ValueFilter: invites.ValueFilter{EqualTo: &email}}},
			Order: invites.Order{Field: invites.OrderCreatedAt}, Limit: 10})
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		if len(list) != 1 {
			t.Fatalf("List by email %q returned %d invites, want 1", want.Email, len(list))
		}
		checkInvite(t, "List", list[0], want)
	}
}

func testReturnsCopies(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	ctx := t.Context()
	in := newInvite(tenantA, "copy@x.com", t0, func(i *invites.Invite) {
		i.Roles, i.Data = []string{"a", "b"}, json.RawMessage(`{"k":"v"}`)
	})
	want := in
	want.Roles, want.Data = []string{"a", "b"}, json.RawMessage(`{"k":"v"}`)
	scribble := func(inv invites.Invite) {
		if len(inv.Roles) > 0 {
			inv.Roles[0] = "scribbled"
		}
		if len(inv.Data) > 2 {
			inv.Data[2] = 'z'
		}
	}
	stored := insertOne(t, s, t0, in)
	scribble(in)
	checkInvite(t, "Get after the caller changed the slices it passed to Insert", get(t, s, tenantA, want.ID), want)
	scribble(stored)
	checkInvite(t, "Get after the caller changed the slices Insert returned", get(t, s, tenantA, want.ID), want)
	scribble(get(t, s, tenantA, want.ID))
	checkInvite(t, "Get after the caller changed the slices Get returned", get(t, s, tenantA, want.ID), want)
	list, _, err := s.List(ctx, invites.ListParams{TenantID: tenantA, Now: t0,
		Order: invites.Order{Field: invites.OrderCreatedAt}, Limit: 10})
	if err != nil || len(list) != 1 {
		t.Fatalf("List: %d invites, error %v; want 1", len(list), err)
	}
	scribble(list[0])
	checkInvite(t, "Get after the caller changed the slices List returned", get(t, s, tenantA, want.ID), want)

	roles := []string{"x", "y"}
	data := json.RawMessage(`{"k":"w"}`)
	now := t0.Add(time.Minute)
	upd, err := update(ctx, s, tenantA, want.ID, now, invites.Update{Roles: roles, Data: data})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	want.Roles, want.Data, want.UpdatedAt = []string{"x", "y"}, json.RawMessage(`{"k":"w"}`), now
	roles[0], data[2] = "scribbled", 'z'
	scribble(upd)
	checkInvite(t, "Get after the caller changed the slices it passed to and got from Update", get(t, s, tenantA, want.ID), want)
}

func strp(s string) *string { return &s }

func testUpdateFields(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	ctx := t.Context()
	inv := insertOne(t, s, t0, newInvite(tenantA, "u@x.com", t0, func(i *invites.Invite) {
		i.Data = json.RawMessage(`{"a":1}`)
	}))
	steps := []struct {
		name   string
		u      invites.Update
		change func(*invites.Invite)
	}{
		{"names and locale", invites.Update{FirstName: strp("Ann"), LastName: strp("Lee"), Locale: strp("fr-FR")},
			func(i *invites.Invite) { i.FirstName, i.LastName, i.Locale = "Ann", "Lee", "fr-FR" }},
		{"last name only", invites.Update{LastName: strp("")},
			func(i *invites.Invite) { i.LastName = "" }},
		{"data", invites.Update{Data: json.RawMessage(`{"b":[true]}`)},
			func(i *invites.Invite) { i.Data = json.RawMessage(`{"b":[true]}`) }},
		{"roles", invites.Update{Roles: []string{"admin", "owner"}},
			func(i *invites.Invite) { i.Roles = []string{"admin", "owner"} }},
		{"empty roles", invites.Update{Roles: []string{}},
			func(i *invites.Invite) { i.Roles = nil }},
		{"data null clears", invites.Update{Data: json.RawMessage(`null`)},
			func(i *invites.Invite) { i.Data = nil }},
	}
	want := inv
	for k, st := range steps {
		now := t0.Add(time.Duration(k+1) * time.Minute)
		got, err := update(ctx, s, tenantA, inv.ID, now, st.u)
		if err != nil {
			t.Fatalf("Update %s: %v", st.name, err)
		}
		st.change(&want)
		want.UpdatedAt = now
		checkInvite(t, "Update "+st.name+" result", got, want)
		checkInvite(t, "Get after Update "+st.name, get(t, s, tenantA, inv.ID), want)
	}
}

// Roles change only while the invite reads pending, names, locale and
// data in any status: the Service's rule, on the invite the store shows
// its Decide.
func testUpdateByStatus(t *testing.T, newStore func(*testing.T) invites.Store) {
	for _, st := range allStates {
		t.Run(st, func(t *testing.T) {
			t.Parallel()
			s := newStore(t)
			ctx := t.Context()
			p := prepare(t, s, "upd@x.com", st)
			now := p.now.Add(time.Minute)
			svc := rule.at(t, s, now)

			_, err := svc.Update(ctx, as(tenantA), p.inv.ID, invites.Update{FirstName: strp("Zed"), Roles: []string{"owner"}})
			if st == stPending {
				if err != nil {
					t.Fatalf("Update roles of a pending invite: %v", err)
				}
				got := get(t, s, tenantA, p.inv.ID)
				if got.FirstName != "Zed" || !sameRoles(got.Roles, []string{"owner"}) {
					t.Fatalf("after Update: FirstName %q, Roles %q; want Zed, [owner]", got.FirstName, got.Roles)
				}
				return
			}
			wantNotPending(t, "Update roles of a "+st+" invite", err, readAs(st))
			checkInvite(t, "Get after a refused Update", get(t, s, tenantA, p.inv.ID), p.inv)

			got, err := svc.Update(ctx, as(tenantA), p.inv.ID, invites.Update{
				FirstName: strp("Zed"), Locale: strp("pt-BR"), Data: json.RawMessage(`{"z":1}`)})
			if err != nil {
				t.Fatalf("Update names of a %s invite: %v", st, err)
			}
			want := p.inv
			want.FirstName, want.Locale, want.Data, want.UpdatedAt = "Zed", "pt-BR", json.RawMessage(`{"z":1}`), now
			checkInvite(t, "Update names of a "+st+" invite", got, readAt(want, now))
			checkInvite(t, "Get after Update", get(t, s, tenantA, p.inv.ID), want)
		})
	}
}

func testUpdateNotFound(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	inv := insertOne(t, s, t0, newInvite(tenantA, "a@x.com", t0))
	_, err := update(t.Context(), s, tenantB, inv.ID, t0, invites.Update{FirstName: strp("X")})
	wantIs(t, "Update of another tenant's invite", err, invites.ErrNotFound)
	_, err = update(t.Context(), s, tenantA, uuid.Must(uuid.NewV7()), t0, invites.Update{FirstName: strp("X")})
	wantIs(t, "Update of a missing invite", err, invites.ErrNotFound)
	checkInvite(t, "Get after a refused Update", get(t, s, tenantA, inv.ID), inv)
}

// Cancel takes a pending or expired invite, and refuses the others with
// their status: the store checks the From the Service gives it.
func testCancelByStatus(t *testing.T, newStore func(*testing.T) invites.Store) {
	for _, st := range allStates {
		t.Run(st, func(t *testing.T) {
			t.Parallel()
			s := newStore(t)
			ctx := t.Context()
			p := prepare(t, s, "cancel@x.com", st)
			now := p.now.Add(time.Minute)
			svc := rule.at(t, s, now)
			got, err := svc.Cancel(ctx, as(tenantA), p.inv.ID)
			switch st {
			case stAccepted, stDeclined, stCanceled:
				wantNotPending(t, "Cancel of a "+st+" invite", err, readAs(st))
				_, err = cancelIn(ctx, s, tenantA, p.inv.ID, now)
				wantRefused(t, "Change of a "+st+" invite from pending or expired", err, readAs(st))
				checkInvite(t, "Get after a refused Cancel", get(t, s, tenantA, p.inv.ID), p.inv)
				return
			}
			if err != nil {
				t.Fatalf("Cancel of a %s invite: %v", st, err)
			}
			want := p.inv
			want.Status, want.StatusUpdatedAt, want.UpdatedAt = invites.StatusCanceled, now, now
			checkInvite(t, "Cancel result", got, want)
			checkInvite(t, "Get after Cancel", get(t, s, tenantA, p.inv.ID), want)

			_, err = svc.Cancel(ctx, as(tenantA), p.inv.ID)
			wantNotPending(t, "second Cancel", err, invites.StatusCanceled)
			_, err = svc.Accept(ctx, tokenOf(p.digest), invites.Acceptor{UserID: "u"})
			wantNotPending(t, "Accept after Cancel", err, invites.StatusCanceled)
			_, err = svc.Decline(ctx, tokenOf(p.digest))
			wantNotPending(t, "Decline after Cancel", err, invites.StatusCanceled)
			if st == stPending {
				// The address is free for a new invite at once.
				insertOne(t, s, now, newInvite(tenantA, "cancel@x.com", now))
			}
		})
	}
}

func testCancelNotFound(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	inv := insertOne(t, s, t0, newInvite(tenantA, "a@x.com", t0))
	_, err := cancelIn(t.Context(), s, tenantB, inv.ID, t0)
	wantIs(t, "Cancel of another tenant's invite", err, invites.ErrNotFound)
	_, err = cancelIn(t.Context(), s, tenantA, uuid.Must(uuid.NewV7()), t0)
	wantIs(t, "Cancel of a missing invite", err, invites.ErrNotFound)
	checkInvite(t, "Get after a refused Cancel", get(t, s, tenantA, inv.ID), inv)
}
