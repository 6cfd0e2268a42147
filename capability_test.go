package invites_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/invitekit/invites"
	"github.com/invitekit/invites/internal/syncbuf"
	"github.com/invitekit/invites/mailer/mailertest"
	"github.com/invitekit/invites/store/memstore"
	"github.com/invitekit/invites/token"
)

// requiredOnly is a memstore seen through the interfaces every invite
// needs, and none of the optional ones.
type requiredOnly struct {
	invites.InviteStore
	invites.OutboxStore
	invites.EventStore
	invites.SuppressionStore
}

func withoutUpkeep(m *memstore.Store) invites.Store { return requiredOnly{m, m, m, m} }

// A store that is no UpkeepStore sends, delivers and accepts invites, and
// the operations it cannot do answer ErrUnsupported, naming themselves.
func TestStoreWithoutUpkeep(t *testing.T) {
	mail := mailertest.New()
	svc, err := invites.New(withoutUpkeep(memstore.New()), mail, invites.Config{Tokens: token.Issuer{},
		AcceptURL: func(tok invites.Token) string { return "/a?t=" + tok.Reveal() }})
	if err != nil {
		t.Fatal(err)
	}
	res, err := svc.Send(ctx, admin, []invites.NewInvite{{Email: "ann@example.com"}})
	if err != nil || len(res.Success) != 1 {
		t.Fatalf("Send = %+v, %v", res, err)
	}
	if n, err := svc.DeliverPending(ctx); err != nil || n != 1 {
		t.Fatalf("DeliverPending = %d, %v; want 1 sent", n, err)
	}
	inv, err := svc.Accept(ctx, mail.TokenFor("ann@example.com"), invites.Acceptor{UserID: "u-ann"})
	if err != nil || inv.Status != invites.StatusAccepted {
		t.Fatalf("Accept = %s, %v; want accepted", inv.Status, err)
	}
	if _, err := svc.Stats(ctx); err != nil {
		t.Fatalf("Stats = %v; want it answered, as every store must", err)
	}
	for _, c := range []struct {
		op  string
		err error
	}{
		{"Prune", func() error { _, err := svc.Prune(ctx); return err }()},
		{"Forget", func() error { _, err := svc.Forget(ctx, admin, "ann@example.com"); return err }()},
	} {
		if !errors.Is(c.err, invites.ErrUnsupported) || !strings.Contains(c.err.Error(), c.op) {
			t.Errorf("%s = %v; want ErrUnsupported naming it", c.op, c.err)
		}
	}
	if _, err := svc.Get(ctx, admin, inv.ID); err != nil {
		t.Fatalf("Get after the refused Forget = %v; want the invite kept", err)
	}
}

// New refuses Retention or EventRetention on a store that cannot prune,
// rather than keep everything in silence.
func TestNewRetentionNeedsUpkeep(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  func(*invites.Config)
	}{
		{"Retention", func(c *invites.Config) { c.Retention = invites.MinRetention }},
		{"EventRetention", func(c *invites.Config) { c.EventRetention = invites.MinRetention }},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := invites.Config{AcceptURL: func(tok invites.Token) string { return tok.Reveal() }}
			c.cfg(&cfg)
			if _, err := invites.New(withoutUpkeep(memstore.New()), mailertest.New(), cfg); !errors.Is(err, invites.ErrUnsupported) {
				t.Fatalf("New without UpkeepStore = %v; want ErrUnsupported", err)
			}
			if _, err := invites.New(memstore.New(), mailertest.New(), cfg); err != nil {
				t.Fatalf("New on memstore = %v", err)
			}
		})
	}
}

// Run on a store that is no UpkeepStore delivers, and does not prune: no
// pass fails for want of Prune.
func TestRunWithoutUpkeepSkipsPrune(t *testing.T) {
	var logs syncbuf.Buffer
	passes := make(chan struct{}, 16)
	mail := mailertest.New()
	svc, err := invites.New(expirySignal{withoutUpkeep(memstore.New()), passes}, mail, invites.Config{
		Tokens:       token.Issuer{},
		AcceptURL:    func(tok invites.Token) string { return tok.Reveal() },
		PollInterval: 10 * time.Millisecond, // each pass a tick, with its prune
		Logger:       slog.New(slog.NewTextHandler(&logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Send(ctx, admin, []invites.NewInvite{{Email: "run@example.com"}}); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(rctx) }()
	for range 2 { // at the second, the first pass and its report are over
		select {
		case <-passes:
		case <-time.After(5 * time.Second):
			t.Fatal("Run made no pass")
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
	if mail.TokenFor("run@example.com") == "" {
		t.Fatal("Run did not deliver")
	}
	if got := logs.String(); got != "" {
		t.Fatalf("Run logged %q; want no failed pass", got)
	}
}

// expirySignal is a Store that reports each ExpireDue, which a pass of
// Run on a tick calls once (when nothing is due) before its prune step.
type expirySignal struct {
	invites.Store
	passes chan<- struct{}
}

func (e expirySignal) ExpireDue(ctx context.Context, p invites.ExpireParams) (int, error) {
	n, err := e.Store.ExpireDue(ctx, p)
	select {
	case e.passes <- struct{}{}:
	default:
	}
	return n, err
}
