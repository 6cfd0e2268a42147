package invites_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
	"github.com/invitekit/invites/mailer/mailertest"
	"github.com/invitekit/invites/store/memstore"
	"github.com/invitekit/invites/token"
)

// failingForget is memstore whose Forget fails from its second call on,
// as a database that goes away between two of Forget's commits.
type failingForget struct {
	*memstore.Store
	calls int
}

var errStoreGone = errors.New("store gone")

func (f *failingForget) Forget(ctx context.Context, p invites.ForgetParams) ([]uuid.UUID, error) {
	if f.calls++; f.calls > 1 {
		return nil, errStoreGone
	}
	return f.Store.Forget(ctx, p)
}

// A Forget whose later commit fails returns the store's error with the
// IDs it did erase, which stay erased; a second Forget finishes.
func TestForgetFailsBetweenCommits(t *testing.T) {
	h := newHarness(t)
	inv := h.send(admin, "gone@example.com")[0]
	store := &failingForget{Store: h.store}
	svc, err := invites.New(store, mailertest.New(), invites.Config{Tokens: token.Issuer{},
		AcceptURL: func(tok invites.Token) string { return "/a?t=" + tok.Reveal() }})
	if err != nil {
		t.Fatal(err)
	}
	ids, err := svc.Forget(ctx, admin, "gone@example.com")
	if !errors.Is(err, errStoreGone) || len(ids) != 1 || ids[0] != inv.ID {
		t.Fatalf("Forget = %v, %v; want [%s] and the store's error", ids, err, inv.ID)
	}
	if _, err := h.svc.Get(ctx, admin, inv.ID); !errors.Is(err, invites.ErrNotFound) {
		t.Fatalf("the invite of the first commit: %v, want it erased", err)
	}
	if ids, err := h.svc.Forget(ctx, admin, "gone@example.com"); err != nil || len(ids) != 0 {
		t.Fatalf("Forget again = %v, %v; want none left", ids, err)
	}
}
