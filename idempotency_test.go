package invites_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
	"github.com/invitekit/invites/store/memstore"
)

// lostReply is a store whose next write commits and then answers
// ErrUnavailable, as a connection that drops after the COMMIT: the
// client cannot tell the write happened.
type lostReply struct {
	*memstore.Store
	mu   sync.Mutex
	lose bool
	// stored is what the lost Insert stored.
	stored []invites.Invite
}

func (s *lostReply) loseNext() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lose = true
}

func (s *lostReply) lost() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.lose
	s.lose = false
	return l
}

func (s *lostReply) Insert(ctx context.Context, p invites.InsertParams) ([]invites.InsertResult, error) {
	res, err := s.Store.Insert(ctx, p)
	if err == nil && s.lost() {
		for _, r := range res {
			s.stored = append(s.stored, r.Invite)
		}
		return nil, fmt.Errorf("%w: connection reset after commit", invites.ErrUnavailable)
	}
	return res, err
}

func (s *lostReply) Change(ctx context.Context, p invites.ChangeParams) (invites.Invite, error) {
	inv, err := s.Store.Change(ctx, p)
	if err == nil && s.lost() {
		return invites.Invite{}, fmt.Errorf("%w: connection reset after commit", invites.ErrUnavailable)
	}
	return inv, err
}

func lostReplyHarness(t *testing.T) (*harness, *lostReply) {
	h := newHarness(t)
	ls := &lostReply{Store: h.store}
	svc, err := invites.New(ls, h.mail, invites.Config{AcceptURL: func(tok invites.Token) string { return "https://app.test/?t=" + tok.Reveal() }, Now: h.clock})
	if err != nil {
		t.Fatal(err)
	}
	h.svc = svc
	return h, ls
}

// A Send whose reply is lost, retried with the same key, answers the
// write that committed: one invite, one email. Without a key the retry
// is told the address is invited already (issue 21, point 5).
func TestSendRetriedWithKeyAfterLostReply(t *testing.T) {
	items := []invites.NewInvite{{Email: "ann@example.com", FirstName: "Ann"}}
	for _, tc := range []struct {
		name     string
		key      string
		wantCode string // of the retry's one item error; "" for a success
	}{
		{"with a key", "3f1c0a9e-retry", ""},
		{"without a key", "", invites.CodeAlreadyInvited},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, ls := lostReplyHarness(t)
			ctx := t.Context()
			if tc.key != "" {
				ctx = invites.WithIdempotencyKey(ctx, tc.key)
			}
			ls.loseNext()
			if _, err := h.svc.Send(ctx, admin, items); !errors.Is(err, invites.ErrUnavailable) {
				t.Fatalf("first Send: %v, want the lost reply's ErrUnavailable", err)
			}
			if len(ls.stored) != 1 {
				t.Fatalf("the lost Send stored %d invites, want 1", len(ls.stored))
			}
			h.advance(time.Second)
			res, err := h.svc.Send(ctx, admin, items)
			if err != nil {
				t.Fatalf("retry: %v", err)
			}
			if tc.wantCode != "" {
				if len(res.Errors) != 1 || res.Errors[0].Code != tc.wantCode {
					t.Fatalf("retry without a key: %+v, want one %s", res, tc.wantCode)
				}
				return
			}
			if len(res.Success) != 1 || len(res.Errors) != 0 {
				t.Fatalf("retry with the key: %+v, want the first answer's one success", res)
			}
			got, first := res.Success[0], ls.stored[0]
			if got.ID != first.ID || got.Email != first.Email || !got.CreatedAt.Equal(first.CreatedAt) || got.Status != invites.StatusPending {
				t.Fatalf("retry answered %+v, want the invite the lost Send stored %+v", got, first)
			}
			if page, err := h.svc.List(t.Context(), admin, invites.Query{}); err != nil || page.TotalCount != 1 {
				t.Fatalf("List: %d invites (%v), want 1", page.TotalCount, err)
			}
			if n := h.deliver(); n != 1 || len(h.mail.Messages()) != 1 {
				t.Fatalf("delivered %d, mailer holds %d, want one email", n, len(h.mail.Messages()))
			}
		})
	}
}

func TestIdempotencyKeyRules(t *testing.T) {
	h, ls := lostReplyHarness(t)
	ctx := invites.WithIdempotencyKey(t.Context(), "k-1")
	ann := []invites.NewInvite{{Email: "ann@example.com"}}
	first, err := h.svc.Send(ctx, admin, ann)
	if err != nil {
		t.Fatal(err)
	}

	// Another body under the key is refused, and writes nothing.
	_, err = h.svc.Send(ctx, admin, []invites.NewInvite{{Email: "bob@example.com"}})
	if !errors.Is(err, invites.ErrIdempotencyMismatch) {
		t.Fatalf("Send of another batch with the key: %v, want ErrIdempotencyMismatch", err)
	}
	// Another actor's key of the same name is its own.
	peer := invites.Actor{UserID: "u-peer", TenantID: admin.TenantID, Roles: admin.Roles}
	if res, err := h.svc.Send(ctx, peer, []invites.NewInvite{{Email: "cy@example.com"}}); err != nil || len(res.Success) != 1 {
		t.Fatalf("another actor's Send with the same key: %+v, %v", res, err)
	}
	// The replay answers the first answer whole.
	again, err := h.svc.Send(ctx, admin, ann)
	if err != nil || fmt.Sprintf("%+v", again) != fmt.Sprintf("%+v", first) {
		t.Fatalf("replay: %+v, %v\nwant %+v", again, err, first)
	}

	// A Cancel whose reply was lost, retried under its key.
	id := first.Success[0].ID
	cctx := invites.WithIdempotencyKey(t.Context(), "cancel-1")
	ls.loseNext()
	if _, err := h.svc.Cancel(cctx, admin, id); !errors.Is(err, invites.ErrUnavailable) {
		t.Fatalf("first Cancel: %v", err)
	}
	if inv, err := h.svc.Cancel(cctx, admin, id); err != nil || inv.Status != invites.StatusCanceled {
		t.Fatalf("Cancel retried with its key: %+v, %v, want the canceled invite", inv, err)
	}
	if _, err := h.svc.Cancel(t.Context(), admin, id); !errors.Is(err, invites.ErrNotPending) {
		t.Fatalf("Cancel retried without a key: %v, want ErrNotPending", err)
	}
	if _, err := h.svc.Resend(cctx, admin, id); !errors.Is(err, invites.ErrIdempotencyMismatch) {
		t.Fatalf("Resend under the Cancel's key: %v, want ErrIdempotencyMismatch", err)
	}

	for _, k := range []string{"", strings.Repeat("k", invites.MaxIdempotencyKeyBytes+1), "tab\tkey", "é"} {
		_, err := h.svc.Cancel(invites.WithIdempotencyKey(t.Context(), k), admin, uuid.New())
		if !errors.Is(err, invites.ErrInvalidInput) {
			t.Fatalf("key %q: %v, want ErrInvalidInput", k, err)
		}
	}
}

// After IdempotencyTTL the key is free: the same request writes again,
// and Prune deletes the record.
func TestIdempotencyKeyExpires(t *testing.T) {
	h := newHarness(t)
	ctx := invites.WithIdempotencyKey(t.Context(), "k")
	if _, err := h.svc.Send(ctx, admin, []invites.NewInvite{{Email: "ann@example.com"}}); err != nil {
		t.Fatal(err)
	}
	h.advance(invites.DefaultIdempotencyTTL)
	res, err := h.svc.Send(ctx, admin, []invites.NewInvite{{Email: "ann@example.com"}})
	if err != nil || len(res.Errors) != 1 || res.Errors[0].Code != invites.CodeAlreadyInvited {
		t.Fatalf("Send after the TTL: %+v, %v, want it run anew (already invited)", res, err)
	}
	h.advance(invites.DefaultIdempotencyTTL + time.Second)
	if r, err := h.svc.Prune(t.Context()); err != nil || r.Keys != 1 {
		t.Fatalf("Prune: %+v, %v, want the second key pruned", r, err)
	}
}
