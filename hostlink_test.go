package invites_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/invitekit/invites"
	"github.com/invitekit/invites/internal/syncbuf"
)

// tokenOfLink is the token of a link of the harness's AcceptURL.
func tokenOfLink(t *testing.T, link string) string {
	t.Helper()
	tok, ok := strings.CutPrefix(link, "https://app.test/accept?token=")
	if !ok || tok == "" {
		t.Fatalf("%q is no accept link", link)
	}
	return tok
}

// A link the host delivers is in the send's answer alone: the invite
// shows no email queued and none goes out, and its token accepts.
func TestHostLinkSentOnce(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	res, err := h.svc.Send(ctx, admin, []invites.NewInvite{
		{Email: "sms@example.com", Channel: invites.ChannelHost},
		{Email: "mail@example.com"},
		{Email: "bad@example.com", Channel: "pigeon"},
	})
	if err != nil || len(res.Success) != 2 || len(res.Errors) != 1 || res.Errors[0].Code != invites.CodeInvalidChannel {
		t.Fatalf("Send = %+v, %v; want two stored and the unknown channel refused", res, err)
	}
	host := res.Success[0]
	if host.DeliveryStatus != invites.DeliveryHost || len(res.Links) != 1 {
		t.Fatalf("the host's invite is %s with links %v, want %s and one link", host.DeliveryStatus, res.Links, invites.DeliveryHost)
	}
	if n := h.deliver(); n != 1 || h.mail.TokenFor("sms@example.com") != "" {
		t.Fatalf("a pass sent %d emails, want only the email's", n)
	}
	tok := tokenOfLink(t, res.Links[host.ID])
	if _, err := h.svc.Accept(ctx, tok, invites.Acceptor{UserID: "u-sms"}); err != nil {
		t.Fatalf("Accept with the send's link: %v", err)
	}
}

// Resend answers no link, so it refuses an invite the host delivers;
// ResendWith rotates its link.
func TestHostLinkResend(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	res, err := h.svc.Send(ctx, admin, []invites.NewInvite{{Email: "chat@example.com", Channel: invites.ChannelHost}})
	if err != nil {
		t.Fatal(err)
	}
	id := res.Success[0].ID
	h.advance(time.Hour)
	if _, err := h.svc.Resend(ctx, admin, id); !errors.Is(err, invites.ErrLinkNotReturned) {
		t.Fatalf("Resend of the host's invite: %v, want ErrLinkNotReturned", err)
	}
	r, err := h.svc.ResendWith(ctx, admin, id, invites.ResendOptions{})
	if err != nil || r.Link == "" || r.Link == res.Links[id] {
		t.Fatalf("ResendWith = %+v, %v; want a new link", r, err)
	}
	if _, err := h.svc.Accept(ctx, tokenOfLink(t, res.Links[id]), invites.Acceptor{UserID: "u"}); !errors.Is(err, invites.ErrInvalidToken) {
		t.Fatalf("Accept with the first link after the resend: %v, want ErrInvalidToken", err)
	}
	for _, bad := range []invites.ResendOptions{{Channel: "fax"}, {TTL: time.Second}, {TTL: 365 * 24 * time.Hour}} {
		if _, err := h.svc.ResendWith(ctx, admin, id, bad); !errors.Is(err, invites.ErrInvalidInput) {
			t.Errorf("ResendWith %+v: %v, want ErrInvalidInput", bad, err)
		}
	}
}

// A link is never kept: a replay of an answer that held one is
// ErrLinkNotKept, and writes nothing; an answer without one replays.
func TestHostLinkNotReplayed(t *testing.T) {
	h := newHarness(t)
	ctx := invites.WithIdempotencyKey(context.Background(), "k-1")
	items := []invites.NewInvite{{Email: "once@example.com", Channel: invites.ChannelHost}}
	res, err := h.svc.Send(ctx, admin, items)
	if err != nil || len(res.Links) != 1 {
		t.Fatalf("Send = %+v, %v; want a link", res, err)
	}
	if _, err := h.svc.Send(ctx, admin, items); !errors.Is(err, invites.ErrLinkNotKept) {
		t.Fatalf("replayed Send: %v, want ErrLinkNotKept", err)
	}
	// The same items by email are another request.
	items[0].Channel = ""
	if _, err := h.svc.Send(ctx, admin, items); !errors.Is(err, invites.ErrIdempotencyMismatch) {
		t.Fatalf("Send of other items under the key: %v, want ErrIdempotencyMismatch", err)
	}
	id := res.Success[0].ID
	h.advance(time.Hour)
	rctx := invites.WithIdempotencyKey(context.Background(), "k-2")
	if r, err := h.svc.ResendWith(rctx, admin, id, invites.ResendOptions{}); err != nil || r.Link == "" {
		t.Fatalf("ResendWith = %+v, %v; want a link", r, err)
	}
	if _, err := h.svc.ResendWith(rctx, admin, id, invites.ResendOptions{}); !errors.Is(err, invites.ErrLinkNotKept) {
		t.Fatalf("replayed ResendWith: %v, want ErrLinkNotKept", err)
	}
	if got := h.get(admin, res.Success[0]); got.SendCount != 2 {
		t.Fatalf("the invite was sent %d times, want twice: a replay writes nothing", got.SendCount)
	}
	h.advance(time.Hour)
	ectx := invites.WithIdempotencyKey(context.Background(), "k-3")
	first, err := h.svc.ResendWith(ectx, admin, id, invites.ResendOptions{Channel: invites.ChannelEmail})
	if err != nil || first.Link != "" {
		t.Fatalf("ResendWith an email = %+v, %v", first, err)
	}
	again, err := h.svc.ResendWith(ectx, admin, id, invites.ResendOptions{Channel: invites.ChannelEmail})
	if err != nil || again.Invite.SendCount != first.Invite.SendCount {
		t.Fatalf("replayed ResendWith of an email = %+v, %v; want the first answer", again, err)
	}
}

// The link reaches the caller alone: nothing the Service logs, observes
// or answers elsewhere (Get, List, History, the store) carries its token.
func TestHostLinkLogsNoToken(t *testing.T) {
	var buf syncbuf.Buffer
	rec := &observer{events: map[invites.EventType]int{}}
	h := newHarness(t, func(c *invites.Config) {
		c.Logger = slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
		c.Observer = rec
	})
	ctx := context.Background()
	res, err := h.svc.Send(ctx, admin, []invites.NewInvite{{Email: "quiet@example.com", Channel: invites.ChannelHost, TTL: 2 * time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	id := res.Success[0].ID
	h.advance(time.Hour)
	r, err := h.svc.ResendWith(ctx, admin, id, invites.ResendOptions{})
	if err != nil {
		t.Fatal(err)
	}
	h.deliver()
	if _, err := h.svc.DispatchEvents(ctx); err != nil {
		t.Fatal(err)
	}
	page, err := h.svc.List(ctx, admin, invites.Query{})
	if err != nil {
		t.Fatal(err)
	}
	evs, err := h.svc.History(ctx, admin, id)
	if err != nil {
		t.Fatal(err)
	}
	seen, _ := json.Marshal([]any{page, evs, h.get(admin, res.Success[0]), r.Invite})
	rec.mu.Lock()
	out := fmt.Sprintf("%s %s %+v %s", buf.String(), seen, rec.ops, h.store.Dump())
	rec.mu.Unlock()
	for _, link := range []string{res.Links[id], r.Link} {
		if tok := tokenOfLink(t, link); strings.Contains(out, tok) {
			t.Fatalf("a link's token leaked into logs, spans or reads: %s", out)
		}
	}
}
