package bunstore_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/invitekit/invites"
	"github.com/invitekit/invites/mailer/mailertest"
	"github.com/invitekit/invites/token"
	"github.com/uptrace/bun"
)

// The Service's own checks (member check, email match, token check,
// quotas) and its event handler, end to end on each database: what the
// conformance suite checks store by store, here through the Service.
func TestServiceOnBothDatabases(t *testing.T) {
	eachDB(t, func(t *testing.T, db *bun.DB) {
		ctx := t.Context()
		var (
			mu   sync.Mutex
			told []invites.EventType
		)
		mail := mailertest.New()
		svc, err := invites.New(migrated(t, db), mail, invites.Config{
			Tokens:    token.Issuer{},
			AcceptURL: func(tok invites.Token) string { return "/accept?token=" + tok.Reveal() },
			IsMember: func(_ context.Context, _ string, emails []string) ([]bool, error) {
				out := make([]bool, len(emails))
				for i, e := range emails {
					out[i] = e == "member@example.com"
				}
				return out, nil
			},
			RequireEmailMatch:   true,
			MaxPendingPerTenant: 2,
			OnEvent: func(_ context.Context, e invites.Event) error {
				mu.Lock()
				defer mu.Unlock()
				told = append(told, e.Type)
				return nil
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		admin := invites.Actor{UserID: "admin", TenantID: "acme", Roles: []string{"member"}}
		res, err := svc.Send(ctx, admin, []invites.NewInvite{
			{Email: "ann@example.com"}, {Email: "member@example.com"}, {Email: "bob@example.com"}, {Email: "cy@example.com"},
		})
		if err != nil {
			t.Fatal(err)
		}
		var codes []string
		for _, e := range res.Errors {
			codes = append(codes, e.Code)
		}
		if len(res.Success) != 2 || !slices.Equal(codes, []string{invites.CodeAlreadyMember, invites.CodeQuotaExceeded}) {
			t.Fatalf("Send = %d stored, item codes %v; want 2 and [already_member quota_exceeded]", len(res.Success), codes)
		}
		if _, err := svc.DeliverPending(ctx); err != nil {
			t.Fatal(err)
		}
		tok := mail.TokenFor("ann@example.com")
		if c, err := svc.Check(ctx, tok); err != nil || !c.IsValid || c.Email != "ann@example.com" {
			t.Fatalf("Check = %+v, %v", c, err)
		}
		if _, err := svc.Accept(ctx, tok, invites.Acceptor{UserID: "u-bob", Email: "bob@example.com"}); !errors.Is(err, invites.ErrEmailMismatch) {
			t.Fatalf("Accept by another address: %v, want ErrEmailMismatch", err)
		}
		inv, err := svc.Accept(ctx, tok, invites.Acceptor{UserID: "u-ann", Email: "ANN@example.com"})
		if err != nil || inv.Status != invites.StatusAccepted {
			t.Fatalf("Accept by the invited address: %v", err)
		}
		hist, err := svc.History(ctx, admin, inv.ID)
		if err != nil || len(hist) != 3 {
			t.Fatalf("History = %+v, %v; want created, sent, accepted", hist, err)
		}
		if n, err := svc.DispatchEvents(ctx); err != nil || n != 5 {
			t.Fatalf("DispatchEvents = %d, %v; want 5 (two invites created and sent, one accepted)", n, err)
		}
		mu.Lock()
		defer mu.Unlock()
		if slices.Index(told, invites.EventAccepted) < slices.Index(told, invites.EventSent) {
			t.Fatalf("events told out of order: %v", told)
		}
	})
}
