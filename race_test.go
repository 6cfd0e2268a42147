package invites_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/invitekit/invites"
)

// The Service's rules hold under real goroutines, not only the Store's.
func TestServiceRaces(t *testing.T) {
	h := newHarness(t)
	const n = 100
	emails := make([]string, n)
	for i := range emails {
		emails[i] = fmt.Sprintf("race%d@example.com", i)
	}
	sent := h.send(admin, emails...)
	h.deliver()

	var wg sync.WaitGroup
	start := make(chan struct{})
	acceptErr := make([]error, n)
	cancelErr := make([]error, n)
	for i, inv := range sent {
		tok := h.mail.TokenFor(inv.Email)
		wg.Go(func() {
			<-start
			_, acceptErr[i] = h.svc.Accept(ctx, tok, invites.Acceptor{UserID: "u"})
		})
		wg.Go(func() {
			<-start
			_, cancelErr[i] = h.svc.Cancel(ctx, admin, inv.ID)
		})
	}
	close(start)
	wg.Wait()
	for i, inv := range sent {
		st := h.get(admin, inv).Status
		switch {
		case acceptErr[i] == nil && errors.Is(cancelErr[i], invites.ErrNotPending):
			if st != invites.StatusAccepted {
				t.Fatalf("%d: accept won but row is %s", i, st)
			}
		case cancelErr[i] == nil && errors.Is(acceptErr[i], invites.ErrNotPending):
			if st != invites.StatusCanceled {
				t.Fatalf("%d: cancel won but row is %s", i, st)
			}
		default:
			t.Fatalf("%d: accept %v, cancel %v: want exactly one winner", i, acceptErr[i], cancelErr[i])
		}
	}

	// Fifty parallel Sends of one address leave one pending invite.
	results := make([]invites.SendResult, 50)
	start = make(chan struct{})
	for i := range results {
		wg.Go(func() {
			<-start
			var err error
			results[i], err = h.svc.Send(ctx, admin, []invites.NewInvite{{Email: " Same@Example.com"}})
			if err != nil {
				t.Error(err)
			}
		})
	}
	close(start)
	wg.Wait()
	won := 0
	for _, r := range results {
		won += len(r.Success)
		if len(r.Success) == 0 && (len(r.Errors) != 1 || r.Errors[0].Code != invites.CodeAlreadyInvited) {
			t.Fatalf("loser got %+v", r.Errors)
		}
	}
	if won != 1 {
		t.Fatalf("%d sends of one address succeeded", won)
	}
}
