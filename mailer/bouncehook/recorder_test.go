package bouncehook_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/invitekit/invites"
	"github.com/invitekit/invites/mailer"
	"github.com/invitekit/invites/mailer/bouncehook"
	"github.com/invitekit/invites/store/memstore"
	"github.com/invitekit/invites/token"
)

var ctx = context.Background()

// downStore is a store whose Bounce cannot reach the database.
type downStore struct{ *memstore.Store }

func (downStore) Bounce(context.Context, invites.BounceParams) (invites.Invite, bool, error) {
	return invites.Invite{}, false, fmt.Errorf("memstore: %w", invites.ErrUnavailable)
}

// sentInvite is an invite of tenant acme whose email went out through a
// mailer of mail.acme.test, and the email's Message-ID.
type sentInvite struct {
	svc       *invites.Service
	actor     invites.Actor
	invite    invites.Invite
	messageID string
}

func newSentInvite(t *testing.T, store invites.Store) sentInvite {
	t.Helper()
	var out bytes.Buffer
	w, err := mailer.NewWriter(&out, mailer.WriterConfig{From: "Acme <invites@mail.acme.test>"})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := invites.New(store, w, invites.Config{
		Tokens:    token.Issuer{},
		AcceptURL: func(t invites.Token) string { return "https://app.test/accept?token=" + t.Reveal() },
	})
	if err != nil {
		t.Fatal(err)
	}
	actor := invites.Actor{UserID: "u", TenantID: "acme", Roles: []string{"member"}}
	res, err := svc.Send(ctx, actor, []invites.NewInvite{{Email: "ann@example.test"}})
	if err != nil || len(res.Success) != 1 {
		t.Fatalf("Send = %+v, %v", res, err)
	}
	if n, err := svc.DeliverPending(ctx); err != nil || n != 1 {
		t.Fatalf("DeliverPending = %d, %v", n, err)
	}
	_, rest, _ := strings.Cut(out.String(), "Message-ID: ")
	id, _, _ := strings.Cut(rest, "\n")
	return sentInvite{svc: svc, actor: actor, invite: res.Success[0], messageID: strings.TrimSpace(id)}
}

func (s sentInvite) get(t *testing.T) invites.Invite {
	t.Helper()
	inv, err := s.svc.Get(ctx, s.actor, s.invite.ID)
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

// suppressed reports whether a Send from tenant to the invite's address
// is refused as suppressed.
func (s sentInvite) suppressed(t *testing.T, tenant string) bool {
	t.Helper()
	res, err := s.svc.Send(ctx, invites.Actor{UserID: "u", TenantID: tenant, Roles: []string{"member"}},
		[]invites.NewInvite{{Email: s.invite.Email}})
	if err != nil {
		t.Fatal(err)
	}
	return len(res.Errors) == 1 && res.Errors[0].Code == invites.CodeSuppressed
}

func TestRecorderRecordsOnTheService(t *testing.T) {
	const unknown = "<00000000-0000-4000-8000-000000000000@mail.acme.test>"
	for _, tc := range []struct {
		name      string
		down      bool
		tenant    string
		kind      bouncehook.Kind
		messageID string // "" for the email's own
		noReason  bool   // the provider gave none
		wantErr   error  // from Bounce
		dropped   error  // what Dropped hears
		reason    string // the invite's DeliveryError; "" for not failed
		// suppressed: a Send to the address from tenant is refused after,
		// and not from another tenant unless allTenants.
		suppressed, allTenants bool
	}{
		{name: "bounce", kind: bouncehook.KindBounce, reason: "hard bounce: 550 5.1.1 user unknown (sendgrid)", suppressed: true},
		{name: "complaint", kind: bouncehook.KindComplaint, suppressed: true, allTenants: true},
		{name: "bounce without a reason", noReason: true, kind: bouncehook.KindBounce, reason: "hard bounce: no reason given (sendgrid)", suppressed: true},
		{name: "complaint without a reason", noReason: true, kind: bouncehook.KindComplaint, suppressed: true, allTenants: true},
		{name: "the tenant's", tenant: "acme", kind: bouncehook.KindBounce, reason: "hard bounce: 550 5.1.1 user unknown (sendgrid)", suppressed: true},
		{name: "the tenant's complaint", tenant: "acme", kind: bouncehook.KindComplaint, suppressed: true, allTenants: true},
		{name: "another tenant's", tenant: "globex", kind: bouncehook.KindBounce, dropped: invites.ErrNotFound},
		{name: "another tenant's complaint", tenant: "globex", kind: bouncehook.KindComplaint, dropped: invites.ErrNotFound},
		{name: "unknown delivery", kind: bouncehook.KindBounce, messageID: unknown, dropped: invites.ErrNotFound},
		{name: "another domain", kind: bouncehook.KindBounce, messageID: "<x@mail.evil.test>", dropped: invites.ErrInvalidInput},
		{name: "provider's own id", kind: bouncehook.KindBounce, messageID: "0000-ses-id", dropped: invites.ErrInvalidInput},
		{name: "store down", down: true, kind: bouncehook.KindBounce, wantErr: invites.ErrUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var store invites.Store = memstore.New()
			if tc.down {
				store = downStore{memstore.New()}
			}
			s := newSentInvite(t, store)
			var dropped []error
			rec := bouncehook.Recorder{Service: s.svc, TenantID: tc.tenant, Dropped: func(_ bouncehook.Notice, err error) { dropped = append(dropped, err) }}
			n := bouncehook.Notice{Provider: "sendgrid", Kind: tc.kind, Address: "ann@example.test", MessageID: tc.messageID, Reason: "550 5.1.1 user unknown"}
			if n.MessageID == "" {
				n.MessageID = s.messageID
			}
			if tc.noReason {
				n.Reason = ""
			}
			if err := rec.Bounce(ctx, n); !errors.Is(err, tc.wantErr) || (err == nil) != (tc.wantErr == nil) {
				t.Fatalf("Bounce = %v, want %v", err, tc.wantErr)
			}
			switch {
			case tc.dropped == nil && len(dropped) != 0:
				t.Errorf("Dropped heard %v", dropped)
			case tc.dropped != nil && (len(dropped) != 1 || !errors.Is(dropped[0], tc.dropped)):
				t.Errorf("Dropped heard %v, want %v", dropped, tc.dropped)
			}
			for _, tenant := range []string{"acme", "globex"} {
				want := tc.suppressed && (tenant == "acme" || tc.allTenants)
				if got := s.suppressed(t, tenant); got != want {
					t.Errorf("a Send from %s to the address is suppressed: %v, want %v", tenant, got, want)
				}
			}
			inv := s.get(t)
			if tc.reason == "" {
				if inv.DeliveryStatus != invites.DeliverySent {
					t.Errorf("invite %s (%q), want it sent still", inv.DeliveryStatus, inv.DeliveryError)
				}
				return
			}
			if inv.DeliveryStatus != invites.DeliveryFailed || inv.DeliveryError != tc.reason {
				t.Errorf("invite %s (%q), want failed (%q)", inv.DeliveryStatus, inv.DeliveryError, tc.reason)
			}
		})
	}
}

// A SendGrid bounce of an email the Service sent fails its invite.
func TestSendGridThroughRecorder(t *testing.T) {
	s := newSentInvite(t, memstore.New())
	key := newSendGridKey(t)
	h, err := bouncehook.NewSendGrid(bouncehook.SendGridConfig{Sink: bouncehook.Recorder{Service: s.svc}, PublicKey: key.pub, Now: func() time.Time { return sendGridNow }})
	if err != nil {
		t.Fatal(err)
	}
	body := strings.ReplaceAll(sendGridEvents, "<14c5d75ce93.dfd.64b469@ismtpd-555>", s.messageID)
	if code := post(t, h, "/hooks/sendgrid", body, key.sign(sendGridNow, body)); code != http.StatusOK {
		t.Fatalf("status %d", code)
	}
	if inv := s.get(t); inv.DeliveryStatus != invites.DeliveryFailed || inv.DeliveryError != "hard bounce: 500 unknown recipient (sendgrid)" {
		t.Errorf("invite %s (%q), want failed by the bounce", inv.DeliveryStatus, inv.DeliveryError)
	}
}
