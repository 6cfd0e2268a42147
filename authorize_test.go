package invites_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
)

// member may grant "member" but not "admin".
var member = invites.Actor{UserID: "u-member", TenantID: "acme", Roles: []string{"member"}}

// An expired invite granting admin, revived by a resend of an actor who
// may not grant admin, would hand its invitee admin: refused, before the
// cooldown and the resend limit are looked at.
func TestResendChecksTheRolesItRenews(t *testing.T) {
	h := newHarness(t, func(c *invites.Config) { c.MaxResends = 1 })
	inv, _ := h.invite(admin, "ann@example.com") // roles admin, member
	// Within the cooldown: authorization still comes first.
	if _, err := h.svc.Resend(ctx, member, inv.ID); !errors.Is(err, invites.ErrForbiddenRole) {
		t.Fatalf("resend by a member within the cooldown: %v, want ErrForbiddenRole", err)
	}
	h.advance(8 * 24 * time.Hour) // expired
	if _, err := h.svc.Resend(ctx, member, inv.ID); !errors.Is(err, invites.ErrForbiddenRole) {
		t.Fatalf("resend of an expired admin invite by a member: %v, want ErrForbiddenRole", err)
	}
	if got := h.get(admin, inv); got.Status != invites.StatusExpired || got.SendCount != 1 {
		t.Fatalf("the refused resend changed the invite: %+v", got)
	}
	if _, err := h.svc.Resend(ctx, admin, inv.ID); err != nil {
		t.Fatalf("resend by an admin: %v", err)
	}
	// Over the limit: a member still hears 403 first, an admin 429.
	if _, err := h.svc.Resend(ctx, member, inv.ID); !errors.Is(err, invites.ErrForbiddenRole) {
		t.Fatalf("resend over the limit by a member: %v, want ErrForbiddenRole", err)
	}
	h.advance(time.Hour)
	if _, err := h.svc.Resend(ctx, admin, inv.ID); !errors.Is(err, invites.ErrTooManyResends) {
		t.Fatalf("resend over the limit by an admin: %v, want ErrTooManyResends", err)
	}

	// A member's own invite, granting member, is the member's to resend.
	mine, _ := h.invite(member, "bob@example.com")
	h.advance(time.Hour)
	if _, err := h.svc.Resend(ctx, member, mine.ID); err != nil {
		t.Fatalf("resend of a member invite by a member: %v", err)
	}
}

// Absent roles inherit the actor's; an empty list grants none, in Send as
// in Update.
func TestEmptyRolesGrantNone(t *testing.T) {
	h := newHarness(t)
	res, err := h.svc.Send(ctx, admin, []invites.NewInvite{
		{Email: "inherit@example.com"}, {Email: "none@example.com", Roles: []string{}},
	})
	if err != nil || len(res.Success) != 2 {
		t.Fatalf("Send = %+v, %v", res, err)
	}
	if got := res.Success[0].Roles; !slices.Equal(got, admin.Roles) {
		t.Errorf("absent roles became %v, want the actor's %v", got, admin.Roles)
	}
	if got := h.get(admin, res.Success[1]).Roles; len(got) != 0 {
		t.Errorf("roles [] became %v, want none", got)
	}
	upd, err := h.svc.Update(ctx, admin, res.Success[0].ID, invites.Update{Roles: []string{}})
	if err != nil || len(upd.Roles) != 0 {
		t.Errorf("Update roles [] = %v, %v, want none", upd.Roles, err)
	}
}

// Config.Authorize is asked about every operation of an actor, with the
// invite where there is one, and its no is ErrForbidden wrapping its error.
func TestAuthorize(t *testing.T) {
	type ask struct {
		op     invites.Op
		invite bool
	}
	var asked []ask
	var deny invites.Op
	errDeny := errors.New("members may touch their own invites only")
	h := newHarness(t, func(c *invites.Config) {
		c.Authorize = func(_ context.Context, a invites.Actor, op invites.Op, inv *invites.Invite) error {
			asked = append(asked, ask{op, inv != nil})
			owner := admin.UserID // of the tenant, for send and list
			if inv != nil {
				owner = inv.CreatedByUserID
			}
			if op == deny && a.UserID != owner {
				return errDeny
			}
			return nil
		}
	})
	inv, _ := h.invite(admin, "ann@example.com")
	h.advance(time.Hour)
	name := "Ann"
	ops := []struct {
		op  invites.Op
		run func(a invites.Actor) error
	}{
		{invites.OpSend, func(a invites.Actor) error {
			_, err := h.svc.Send(ctx, a, []invites.NewInvite{{Email: "x@example.com"}})
			return err
		}},
		{invites.OpList, func(a invites.Actor) error { _, err := h.svc.List(ctx, a, invites.Query{}); return err }},
		{invites.OpGet, func(a invites.Actor) error { _, err := h.svc.Get(ctx, a, inv.ID); return err }},
		{invites.OpHistory, func(a invites.Actor) error { _, err := h.svc.History(ctx, a, inv.ID); return err }},
		{invites.OpUpdate, func(a invites.Actor) error {
			_, err := h.svc.Update(ctx, a, inv.ID, invites.Update{FirstName: &name})
			return err
		}},
		{invites.OpResend, func(a invites.Actor) error { _, err := h.svc.Resend(ctx, a, inv.ID); return err }},
		{invites.OpCancel, func(a invites.Actor) error { _, err := h.svc.Cancel(ctx, a, inv.ID); return err }},
	}
	someone := invites.Actor{UserID: "u-someone", TenantID: "acme", Roles: admin.Roles}
	for _, o := range ops {
		deny, asked = o.op, nil
		err := o.run(someone)
		var fe *invites.ForbiddenError
		if !errors.Is(err, invites.ErrForbidden) || !errors.Is(err, errDeny) || !errors.As(err, &fe) || fe.Op != o.op {
			t.Errorf("%s by another user: %v, want ErrForbidden wrapping the hook's error", o.op, err)
		}
		withInvite := o.op != invites.OpSend && o.op != invites.OpList
		if len(asked) != 1 || asked[0] != (ask{o.op, withInvite}) {
			t.Errorf("%s asked %v, want once with an invite: %t", o.op, asked, withInvite)
		}
	}
	if got := h.get(admin, inv); got.FirstName != "" || got.SendCount != 1 || got.Status != invites.StatusPending {
		t.Fatalf("refused operations changed the invite: %+v", got)
	}
	// The creator may do each; cancel last.
	for _, o := range ops {
		deny = o.op
		if err := o.run(admin); err != nil {
			t.Errorf("%s by the creator: %v", o.op, err)
		}
	}
	// A refused cancel of a final invite is a 403, not a 409: authorization first.
	deny = invites.OpCancel
	if _, err := h.svc.Cancel(ctx, someone, inv.ID); !errors.Is(err, invites.ErrForbidden) {
		t.Errorf("cancel of a canceled invite by another user: %v, want ErrForbidden", err)
	}
	// Another tenant's invite is not found, and Authorize is not asked.
	asked = nil
	if _, err := h.svc.Cancel(ctx, other, inv.ID); !errors.Is(err, invites.ErrNotFound) || len(asked) != 0 {
		t.Errorf("cancel in another tenant: %v, asked %v", err, asked)
	}
	if _, err := h.svc.Get(ctx, admin, uuid.Must(uuid.NewV7())); !errors.Is(err, invites.ErrNotFound) {
		t.Errorf("get of no invite: %v", err)
	}
}
