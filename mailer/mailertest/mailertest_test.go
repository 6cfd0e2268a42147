package mailertest_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/invitekit/invites"
	"github.com/invitekit/invites/mailer/mailertest"
)

func msgTo(email, tok string) invites.Message {
	return invites.Message{Invite: invites.Invite{Email: email}, Token: invites.Token(tok)}
}

func TestRecordsAndFails(t *testing.T) {
	ctx := context.Background()
	m := mailertest.New()
	m.FailNext(2, mailertest.ErrTemporary)
	for range 2 {
		if err := m.Send(ctx, msgTo("a@x.io", "t0")); !errors.Is(err, mailertest.ErrTemporary) {
			t.Fatalf("err = %v, want ErrTemporary", err)
		}
	}
	if err := m.Send(ctx, msgTo("A@x.io", "t1")); err != nil {
		t.Fatal(err)
	}
	if err := m.Send(ctx, msgTo("b@x.io", "t2")); err != nil {
		t.Fatal(err)
	}
	if got := m.TokenFor(" a@X.io"); got != "t1" {
		t.Errorf("TokenFor = %q, want t1", got)
	}
	if got := m.TokenFor("c@x.io"); got != "" {
		t.Errorf("TokenFor unknown = %q", got)
	}
	if n, a := len(m.Messages()), m.Attempts(); n != 2 || a != 4 {
		t.Errorf("messages %d attempts %d, want 2 and 4", n, a)
	}
	m.FailWith(func(msg invites.Message) error {
		if msg.Invite.Email == "b@x.io" {
			return mailertest.ErrPermanent
		}
		return nil
	})
	if err := m.Send(ctx, msgTo("b@x.io", "t3")); !errors.Is(err, invites.ErrPermanent) {
		t.Fatalf("err = %v, want permanent", err)
	}
	if err := m.Send(ctx, msgTo("a@x.io", "t4")); err != nil {
		t.Fatal(err)
	}
	m.Reset()
	if len(m.Messages()) != 0 || m.Attempts() != 0 {
		t.Fatal("Reset kept state")
	}
	if err := m.Send(ctx, msgTo("b@x.io", "t5")); err != nil {
		t.Fatalf("Reset kept FailWith: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := m.Send(cctx, msgTo("b@x.io", "t6")); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled ctx: %v", err)
	}
}

func TestConcurrentSends(t *testing.T) {
	m := mailertest.New()
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() { _ = m.Send(context.Background(), msgTo("a@x.io", "t")) })
	}
	wg.Wait()
	if len(m.Messages()) != 50 {
		t.Fatalf("got %d messages", len(m.Messages()))
	}
}
