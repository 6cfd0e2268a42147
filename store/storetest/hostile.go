package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
	"github.com/invitekit/invites/store/memstore"
)

// HostileText is text made to break out of the statement that carries
// it: quotes, backslashes (alone, at the end, before a quote), dollar
// quotes, comment openers, placeholders of bun and PostgreSQL, LIKE's
// wildcards and escapes, escape sequences, non-ASCII. Each is text a
// name, an id or a role may hold, so the Service hands them all to its
// store. NUL, which none may hold, is refused before (see hostileNUL).
var HostileText = []string{
	`'`, `''`, `\`, `x\`, `\'`, `\\`, `x\\'`, `' or '1'='1`, `'); drop table invites; --`,
	`$$`, `$tag$`, `$tag$ or true $tag$`, `--`, `x --`, `/*`, `*/`, `/* x`,
	`?`, `?0`, `?name`, `$1`, `%`, `_`, `!`, `!%`, `\%`, `[a]*`,
	`e'\x41'`, `\x41`, `\u0041`, `\041`, `\n`, `"`, `;`, `é ü ½ 😀`,
}

var hostileCases = []testCase{
	{"Hostile/Text", func(t *testing.T, newStore func(*testing.T) invites.Store) { Hostile(t, newStore(t)) }},
	{"Hostile/NUL", hostileNUL},
}

// Hostile runs each value of HostileText through every Store method that
// takes text, in every text a user controls (tenant and user ids, email,
// names, locale, roles, data keys and values, each filter operator,
// search, the cursor of each text order, a bounce reason, Forget's
// address), on s, and the same on a memstore. It fails t where s answers
// otherwise than the memstore, where a value read back is not the one
// written, and where a list holds a row of another tenant. It skips t on
// a store that is no invites.UpkeepStore, since Forget is one of the
// steps.
func Hostile(t *testing.T, s invites.Store) {
	t.Helper()
	needUpkeep(t, s)
	got := hostileRun(t, s)
	want := hostileRun(t, memstore.New())
	if !slices.Equal(got, want) {
		n := 0
		for i := range max(len(got), len(want)) {
			g, w := "(none)", "(none)"
			if i < len(got) {
				g = got[i]
			}
			if i < len(want) {
				w = want[i]
			}
			if g != w && n < 10 {
				t.Errorf("step %d:\n got  %s\n want %s", i, g, w)
				n++
			}
		}
		t.Errorf("the store answered %d steps, the memstore %d; they differ", len(got), len(want))
	}
}

// hostileInvite is the invite of tenant whose every text is v.
func hostileInvite(tenant, v string, i int) invites.Invite {
	data, _ := json.Marshal(map[string]any{v: v, "k": []string{v}}) // strings always marshal
	inv := newInvite(tenant, v+"@x.example", t0, func(inv *invites.Invite) {
		inv.ID = uuid.NewSHA1(uuid.NameSpaceOID, fmt.Appendf(nil, "%q/%d", tenant, i))
		inv.FirstName, inv.LastName, inv.Locale = v, "l"+v, v
		inv.Roles = []string{v, "r" + v}
		inv.Data = data
		inv.CreatedByUserID = v
	})
	return inv
}

// hostileRun runs the corpus on s and returns what s answered, step by
// step, in a form that does not depend on the store.
func hostileRun(t *testing.T, s invites.Store) []string {
	ctx := t.Context()
	var out []string
	say := func(f string, a ...any) { out = append(out, fmt.Sprintf(f, a...)) }
	vals := HostileText
	const victim = "victim"
	label := map[uuid.UUID]string{}
	written := map[uuid.UUID]invites.Invite{}
	ids := func(invs []invites.Invite) string {
		ls := make([]string, len(invs))
		for i, inv := range invs {
			ls[i] = label[inv.ID]
		}
		return strings.Join(ls, " ")
	}

	// Tenant victim has an invite of each value; tenant v one of v (its
	// id) and one of the next value.
	var batches [][]invites.Invite
	var vb []invites.Invite
	for i, v := range vals {
		vb = append(vb, hostileInvite(victim, v, i))
		batches = append(batches, []invites.Invite{hostileInvite(v, v, 0), hostileInvite(v, vals[(i+1)%len(vals)], 1)})
	}
	batches = append(batches, vb)
	for _, b := range batches {
		res, err := s.Insert(ctx, invites.InsertParams{LedgerKey: ledgerKey, Now: t0, Invites: b})
		if err != nil {
			t.Fatalf("Insert in tenant %q: %v", b[0].TenantID, err)
		}
		for i, r := range res {
			label[b[i].ID] = fmt.Sprintf("%q/%s", b[i].TenantID, b[i].FirstName)
			written[b[i].ID] = b[i]
			say("insert %s: %v %v %v %v", label[b[i].ID], r.Invite.ID == b[i].ID, r.Existing != uuid.Nil, r.OverQuota, r.AddressLimited)
		}
	}
	check := func(what string, inv invites.Invite) {
		t.Helper()
		if diff := textDiff(inv, written[inv.ID]); len(diff) > 0 {
			t.Errorf("%s %s read back otherwise than written:\n%s", what, label[inv.ID], joinLines(diff))
		}
	}
	for id, w := range written {
		inv, err := s.Get(ctx, invites.GetParams{TenantID: w.TenantID, ID: id})
		if err != nil {
			t.Fatalf("Get %s: %v", label[id], err)
		}
		check("Get", inv)
	}

	list := func(what string, p invites.ListParams) []invites.Invite {
		t.Helper()
		p.Now, p.Limit = t0, 1000
		invs, total, err := s.List(ctx, p)
		if err != nil {
			t.Fatalf("List %s of %q: %v", what, p.TenantID, err)
		}
		for _, inv := range invs {
			if inv.TenantID != p.TenantID {
				t.Errorf("List %s of %q holds %s of another tenant", what, p.TenantID, label[inv.ID])
			}
			check("List "+what, inv)
		}
		say("list %s of %q: %d [%s]", what, p.TenantID, total, ids(invs))
		return invs
	}
	for i, v := range vals {
		next := vals[(i+1)%len(vals)]
		for _, f := range hostileFilters(v, next) {
			list(f.name, invites.ListParams{TenantID: victim, Where: f.f})
		}
		list("search "+v, invites.ListParams{TenantID: victim, Search: v})
		// In tenant v, whose id is the value, a few: every operator costs
		// the same statement as on victim.
		list("first name "+next, invites.ListParams{TenantID: v, Where: invites.Filter{FirstName: eq(next)}})
		list("created by "+v, invites.ListParams{TenantID: v, Where: invites.Filter{CreatedByUserID: invites.ValueFilter{ValueIn: []string{v, next}}}})
		list("search "+v, invites.ListParams{TenantID: v, Search: v})
	}
	for _, o := range []invites.OrderField{invites.OrderEmail, invites.OrderFirstName, invites.OrderLastName, invites.OrderLocale} {
		for _, desc := range []bool{false, true} {
			order := invites.Order{Field: o, Desc: desc}
			all := list(fmt.Sprintf("by %s desc %v", o, desc), invites.ListParams{TenantID: victim, Order: order})
			for _, k := range []int{0, len(all) / 2, len(all) - 2} {
				after := &invites.Cursor{Text: invites.OrderText(o, all[k], t0), ID: all[k].ID}
				list(fmt.Sprintf("by %s desc %v after %s", o, desc, label[all[k].ID]),
					invites.ListParams{TenantID: victim, Order: order, After: after})
			}
		}
	}

	// Change each victim's invite to the next value, by Decide for half
	// of them and by rule for the rest; accept each tenant's first invite
	// by a user whose id is the value.
	for i, v := range vals {
		next := vals[(i+1)%len(vals)]
		id := vb[i].ID
		fresh := hostileInvite(victim, next, i)
		edit := invites.Edit{Fields: invites.Update{FirstName: &fresh.FirstName, LastName: &fresh.LastName,
			Locale: &fresh.Locale, Data: fresh.Data, Roles: fresh.Roles}}
		p := invites.ChangeParams{LedgerKey: ledgerKey, Now: t0, TenantID: victim, ID: id, ActorID: v}
		if i%2 == 0 {
			p.Decide = func(context.Context, invites.Facts) (invites.Edit, error) { return edit, nil }
		} else {
			p.From, p.Edit = []invites.Status{invites.StatusPending}, edit
		}
		inv, err := s.Change(ctx, p)
		if err != nil {
			t.Fatalf("Change %s: %v", label[id], err)
		}
		w := written[id]
		w.FirstName, w.LastName, w.Locale, w.Data, w.Roles = fresh.FirstName, fresh.LastName, fresh.Locale, fresh.Data, fresh.Roles
		written[id] = w
		check("Change", inv)

		acc := batches[i][0]
		inv, err = s.Change(ctx, invites.ChangeParams{LedgerKey: ledgerKey, Now: t0, TenantID: v, ID: acc.ID, ActorID: v, From: []invites.Status{invites.StatusPending},
			Edit: invites.Edit{Status: invites.StatusAccepted, AcceptedByUserID: v, Event: invites.EventAccepted}})
		if err != nil || inv.AcceptedByUserID != v || inv.Status != invites.StatusAccepted {
			t.Fatalf("accepting %s by %q = %q, %s, %v", label[acc.ID], v, inv.AcceptedByUserID, inv.Status, err)
		}
		w = written[acc.ID]
		w.AcceptedByUserID = v
		written[acc.ID] = w
	}
	for i, v := range vals {
		list("changed first name "+v, invites.ListParams{TenantID: victim, Where: invites.Filter{FirstName: eq(v)}})
		list("accepted by "+v, invites.ListParams{TenantID: v, Where: invites.Filter{AcceptedByUserID: invites.ValueFilter{EqualTo: &v}}})
		evs, err := s.History(ctx, invites.HistoryParams{TenantID: victim, ID: vb[i].ID})
		if err != nil {
			t.Fatalf("History %s: %v", label[vb[i].ID], err)
		}
		var hs []string
		for _, e := range evs {
			if e.TenantID != victim || e.InviteID != vb[i].ID {
				t.Errorf("History of %s holds an event of %q's %s", label[vb[i].ID], e.TenantID, label[e.InviteID])
			}
			hs = append(hs, fmt.Sprintf("%s by %q", e.Type, e.ActorID))
		}
		say("history %s: %s", label[vb[i].ID], strings.Join(hs, ", "))
	}

	// A token digest of each value's bytes: Lookup finds its invite. A
	// bounce of each claimed delivery keeps a value as its reason.
	digests := make([][]byte, len(vals))
	for i, v := range vals {
		digests[i] = fmt.Appendf(nil, "%-32s", fmt.Sprintf("\\'\x00%d%s", i, v))
	}
	claims, err := s.ClaimDeliveries(ctx, invites.ClaimParams{Now: t0, Limit: len(vals), Lease: lease, Digests: digests,
		ExpiresAt: t0.Add(ttl), RenewBefore: t0.Add(ttl)})
	if err != nil || len(claims) == 0 {
		t.Fatalf("ClaimDeliveries of %d: %d, %v", len(vals), len(claims), err)
	}
	for i, c := range claims {
		inv, err := s.Lookup(ctx, invites.LookupParams{Digest: digests[i]})
		if err != nil || inv.ID != c.InviteID {
			t.Errorf("Lookup of the digest of %s = %s, %v", label[c.InviteID], label[inv.ID], err)
		}
		reason := vals[i]
		inv, _, err = s.Bounce(ctx, invites.BounceParams{Now: t0, DeliveryID: c.ID, Reason: reason})
		if err != nil || inv.ID != c.InviteID || inv.DeliveryError != reason {
			t.Errorf("Bounce of %s with %q = %s %q, %v", label[c.InviteID], reason, label[inv.ID], inv.DeliveryError, err)
		}
		w := written[c.InviteID]
		w.DeliveryError = reason
		written[c.InviteID] = w
	}
	say("claimed %d", len(claims))

	// Forget each victim's address (as NormalizeEmail gives it), by an
	// actor whose id is the value.
	for i, v := range vals {
		gone, err := s.(invites.UpkeepStore).Forget(ctx, invites.ForgetParams{Now: t0, TenantID: victim, Email: invites.NormalizeEmail(vb[i].Email), ActorID: v})
		if err != nil {
			t.Fatalf("Forget %q: %v", vb[i].Email, err)
		}
		g := make([]invites.Invite, len(gone))
		for k, id := range gone {
			g[k].ID = id
		}
		say("forget %q: [%s]", vb[i].Email, ids(g))
	}
	list("after Forget", invites.ListParams{TenantID: victim})
	for _, v := range vals {
		list("after Forget", invites.ListParams{TenantID: v})
	}
	return out
}

func eq(v string) invites.StringFilter {
	return invites.StringFilter{ValueFilter: invites.ValueFilter{EqualTo: &v}}
}

type namedFilter struct {
	name string
	f    invites.Filter
}

// likeEscaper makes a StringFilter pattern match s literally.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// hostileFilters is each operator of each text field with v (and next,
// for the lists).
func hostileFilters(v, next string) []namedFilter {
	vf := func() invites.ValueFilter {
		return invites.ValueFilter{EqualTo: &v}
	}
	ops := map[string]func() invites.StringFilter{
		"eq": func() invites.StringFilter { return invites.StringFilter{ValueFilter: vf()} },
		"ne": func() invites.StringFilter {
			return invites.StringFilter{ValueFilter: invites.ValueFilter{NotEqualTo: &v}}
		},
		"in": func() invites.StringFilter {
			return invites.StringFilter{ValueFilter: invites.ValueFilter{ValueIn: []string{v, next}}}
		},
		"nin": func() invites.StringFilter {
			return invites.StringFilter{ValueFilter: invites.ValueFilter{ValueNotIn: []string{v, next}}}
		},
		"like":  func() invites.StringFilter { return invites.StringFilter{Like: "%" + likeEscaper.Replace(v) + "%"} },
		"ilike": func() invites.StringFilter { return invites.StringFilter{ILike: "%" + likeEscaper.Replace(v) + "%"} },
	}
	var out []namedFilter
	for _, op := range []string{"eq", "ne", "in", "nin", "like", "ilike"} {
		for _, field := range []string{"email", "firstName", "lastName", "locale", "createdBy", "acceptedBy"} {
			sf := ops[op]()
			if op == "eq" && field == "email" {
				e := v + "@x.example"
				sf.EqualTo = &e
			}
			var f invites.Filter
			switch field {
			case "email":
				f.Email = sf
			case "firstName":
				f.FirstName = sf
			case "lastName":
				f.LastName = sf
			case "locale":
				f.Locale = sf
			case "createdBy", "acceptedBy":
				if op == "like" || op == "ilike" {
					continue
				}
				if field == "createdBy" {
					f.CreatedByUserID = sf.ValueFilter
				} else {
					f.AcceptedByUserID = sf.ValueFilter
				}
			}
			out = append(out, namedFilter{fmt.Sprintf("%s %s %q", field, op, v), f})
		}
	}
	return out
}

// textDiff lists the texts of got that are not want's.
func textDiff(got, want invites.Invite) []string {
	var d []string
	for _, f := range []struct{ name, got, want string }{
		{"tenantId", got.TenantID, want.TenantID}, {"email", got.Email, want.Email},
		{"firstName", got.FirstName, want.FirstName}, {"lastName", got.LastName, want.LastName},
		{"locale", got.Locale, want.Locale}, {"createdByUserId", got.CreatedByUserID, want.CreatedByUserID},
		{"acceptedByUserId", got.AcceptedByUserID, want.AcceptedByUserID}, {"deliveryError", got.DeliveryError, want.DeliveryError},
	} {
		if f.got != f.want {
			d = append(d, fmt.Sprintf("%s: %q, want %q", f.name, f.got, f.want))
		}
	}
	if !sameRoles(got.Roles, want.Roles) {
		d = append(d, fmt.Sprintf("roles: %q, want %q", got.Roles, want.Roles))
	}
	if !sameJSON(got.Data, want.Data) {
		d = append(d, fmt.Sprintf("data: %s, want %s", got.Data, want.Data))
	}
	return d
}

// NUL in any text a user gives the Service is refused as invalid input,
// before the store: PostgreSQL's text cannot hold it, and every store
// answers alike.
func hostileNUL(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	ctx := t.Context()
	svc := rule.at(t, s, t0)
	const nul = "a\x00b"
	admin := as(tenantA)
	res, err := svc.Send(ctx, admin, []invites.NewInvite{{Email: "ok@x.example"}})
	if err != nil || len(res.Success) != 1 {
		t.Fatalf("Send: %v, %+v", err, res)
	}
	id := res.Success[0].ID
	str := func(s string) *string { return &s }
	var calls []struct {
		name string
		err  error
	}
	try := func(name string, err error) {
		calls = append(calls, struct {
			name string
			err  error
		}{name, err})
	}
	sendErr := func(it invites.NewInvite) error {
		res, err := svc.Send(ctx, admin, []invites.NewInvite{it})
		if err == nil && len(res.Errors) == 1 && strings.HasPrefix(res.Errors[0].Code, "invalid_") {
			err = fmt.Errorf("%w: %s", invites.ErrInvalidInput, res.Errors[0].Code)
		}
		if err == nil {
			err = fmt.Errorf("sent %+v", res.Success)
		}
		return err
	}
	try("Send email", sendErr(invites.NewInvite{Email: "a" + nul + "@x.example"}))
	try("Send firstName", sendErr(invites.NewInvite{Email: "f@x.example", FirstName: nul}))
	try("Send lastName", sendErr(invites.NewInvite{Email: "l@x.example", LastName: nul}))
	try("Send locale", sendErr(invites.NewInvite{Email: "c@x.example", Locale: "en" + nul}))
	try("Send data key", sendErr(invites.NewInvite{Email: "k@x.example", Data: json.RawMessage(`{"a\u0000": 1}`)}))
	try("Send data value", sendErr(invites.NewInvite{Email: "v@x.example", Data: json.RawMessage(`{"a": "\u0000"}`)}))
	try("Send role", sendErr(invites.NewInvite{Email: "r@x.example", Roles: []string{nul}}))
	_, err = svc.Send(ctx, invites.Actor{TenantID: nul, UserID: "u"}, []invites.NewInvite{{Email: "t@x.example"}})
	try("Send tenantId", err)
	_, err = svc.Send(ctx, invites.Actor{TenantID: tenantA, UserID: nul}, []invites.NewInvite{{Email: "u@x.example"}})
	try("Send userId", err)
	_, err = svc.Get(ctx, invites.Actor{TenantID: nul, UserID: "u"}, id)
	try("Get tenantId", err)
	for _, u := range []invites.Update{{FirstName: str(nul)}, {LastName: str(nul)}, {Locale: str(nul)}, {Roles: []string{nul}},
		{Data: json.RawMessage(`{"\u0000": 1}`)}} {
		_, err = svc.Update(ctx, admin, id, u)
		try(fmt.Sprintf("Update %+v", u), err)
	}
	for _, q := range []invites.Query{{Email: nul}, {Search: nul}, {CreatedByUserID: nul}, {Cursor: nul},
		{Where: invites.Filter{FirstName: eq(nul)}}, {Where: invites.Filter{Email: invites.StringFilter{Like: nul}}},
		{Where: invites.Filter{LastName: invites.StringFilter{ILike: nul}}},
		{Where: invites.Filter{Locale: invites.StringFilter{ValueFilter: invites.ValueFilter{ValueIn: []string{nul}}}}},
		{Where: invites.Filter{CreatedByUserID: invites.ValueFilter{NotEqualTo: str(nul)}}},
		{Where: invites.Filter{AcceptedByUserID: invites.ValueFilter{ValueNotIn: []string{"x", nul}}}}} {
		_, err = svc.List(ctx, admin, q)
		try(fmt.Sprintf("List %+v", q), err)
	}
	_, err = svc.Forget(ctx, admin, "a"+nul+"@x.example")
	try("Forget", err)
	_, err = svc.Accept(ctx, "tok"+nul, invites.Acceptor{UserID: "u"})
	try("Accept token", err)
	try("RecordBounce", svc.RecordBounce(ctx, nul, true, "x"))
	for _, c := range calls {
		if !errors.Is(c.err, invites.ErrInvalidInput) && !errors.Is(c.err, invites.ErrInvalidToken) {
			t.Errorf("%s with NUL = %v, want invalid input", c.name, c.err)
		}
	}
	if inv := get(t, s, tenantA, id); inv.FirstName != "" || len(inv.Data) > 0 && !isNullJSON(inv.Data) {
		t.Errorf("after the refused updates the invite has %q, %s", inv.FirstName, inv.Data)
	}
}
