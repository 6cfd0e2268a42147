package otelinvites_test

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"

	"github.com/invitekit/invites"
	"github.com/invitekit/invites/internal/testclock"
	"github.com/invitekit/invites/mailer"
	"github.com/invitekit/invites/mailer/mailertest"
	"github.com/invitekit/invites/store/memstore"
	"github.com/invitekit/invites/token"
)

// The Observer behind a real Service.

const address = "ann@example.com"

var admin = invites.Actor{UserID: "u-admin", TenantID: "acme", Roles: []string{"member"}}

type service struct {
	*telemetry
	svc  *invites.Service
	mail *mailertest.Mailer
	clk  *testclock.Clock
}

func newService(t *testing.T) *service {
	t.Helper()
	s := &service{telemetry: newTelemetry(t), mail: mailertest.New(),
		clk: testclock.New(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))}
	svc, err := invites.New(memstore.New(), s.mail, invites.Config{
		Tokens:    token.Issuer{},
		AcceptURL: func(tok invites.Token) string { return "https://app.test/accept?token=" + tok.Reveal() },
		Now:       s.clk.Now,
		Observer:  s.obs,
	})
	if err != nil {
		t.Fatal(err)
	}
	s.svc = svc
	res, err := svc.Send(context.Background(), admin, []invites.NewInvite{{Email: address}})
	if err != nil || len(res.Success) != 1 {
		t.Fatalf("Send: %+v, %v", res, err)
	}
	return s
}

// deliver advances the clock by d and runs a delivery pass.
func (s *service) deliver(t *testing.T, d time.Duration) {
	t.Helper()
	s.clk.Advance(d)
	if _, err := s.svc.DeliverPending(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestServiceSendAndDelivery(t *testing.T) {
	s := newService(t)
	send := s.span(t, "invites.Send")
	if a := attrs(send); a["invites.tenant_id"].AsString() != "acme" || a["invites.batch_size"].AsInt64() != 1 || a["invites.count"].AsInt64() != 1 {
		t.Errorf("Send's attributes %v", send.Attributes)
	}
	m := s.metrics(t)
	if n := counter(t, m, "invites.events", attribute.String("invites.event.type", "created")); n != 1 {
		t.Errorf("%d created events", n)
	}
	for name, want := range map[string]int64{"invites.outbox.queued": 1, "invites.outbox.due": 1, "invites.outbox.failing": 0, "invites.events.unhandled": 1} {
		if got := gauge[int64](t, m, name); got != want {
			t.Errorf("%s %d, want %d", name, got, want)
		}
	}

	s.deliver(t, 2*time.Minute)
	d := s.span(t, "invites.deliver")
	if len(d.Links) != 1 || d.Links[0].SpanContext.TraceID() != send.SpanContext.TraceID() || d.Links[0].SpanContext.SpanID() != send.SpanContext.SpanID() {
		t.Errorf("the attempt links to %v, want the Send's span %v", d.Links, send.SpanContext)
	}
	if a := attrs(d); a["invites.outcome"].AsString() != "sent" || a["invites.attempt"].AsInt64() != 1 || a["invites.kind"].AsString() != "invitation" {
		t.Errorf("the attempt's attributes %v", d.Attributes)
	}
	m = s.metrics(t)
	if n := counter(t, m, "invites.delivery.attempts", attribute.String("invites.outcome", "sent"), attribute.String("smtp.reply_class", "2xx")); n != 1 {
		t.Errorf("%d sent attempts", n)
	}
	if p := histogram(t, m, "invites.delivery.wait"); p.Count != 1 || p.Sum != 120 {
		t.Errorf("wait %d points, sum %v; want 1, 120", p.Count, p.Sum)
	}
	if n := counter(t, m, "invites.events", attribute.String("invites.event.type", "sent")); n != 1 {
		t.Errorf("%d sent events", n)
	}
	if got := gauge[int64](t, m, "invites.outbox.queued"); got != 0 {
		t.Errorf("%d queued after the email went out", got)
	}

	tok := s.mail.TokenFor(address)
	if tok == "" {
		t.Fatal("no token was mailed")
	}
	if _, err := s.svc.Lookup(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	s.leaks(t, s.metrics(t), address, tok)
}

func TestServiceDeliveryFailures(t *testing.T) {
	s := newService(t)
	s.mail.FailNext(1, mailertest.ErrTemporary)
	s.deliver(t, time.Minute)
	m := s.metrics(t)
	if n := counter(t, m, "invites.delivery.attempts", attribute.String("invites.outcome", "retried"), attribute.String("smtp.reply_class", "none")); n != 1 {
		t.Errorf("%d retried attempts", n)
	}
	if got := gauge[int64](t, m, "invites.outbox.failing"); got != 1 {
		t.Errorf("%d failing, want 1", got)
	}

	s.mail.FailNext(1, &mailer.ReplyError{Command: "RCPT", Code: 550, Message: "5.1.1 <" + address + ">: no such user"})
	s.deliver(t, 2*time.Hour)
	spans := s.spans.GetSpans()
	var attempts []map[attribute.Key]attribute.Value
	for _, sp := range spans {
		if sp.Name == "invites.deliver" {
			if sp.Status.Code != codes.Error {
				t.Errorf("a failed attempt's status %v", sp.Status)
			}
			attempts = append(attempts, attrs(sp))
		}
	}
	if len(attempts) != 2 {
		t.Fatalf("%d attempt spans", len(attempts))
	}
	if a := attempts[0]; a["invites.outcome"].AsString() != "retried" || a["error.type"].AsString() != "other" {
		t.Errorf("the first attempt %v", a)
	}
	if a := attempts[1]; a["invites.outcome"].AsString() != "failed" || a["error.type"].AsString() != "permanent" ||
		a["smtp.reply_code"].AsInt64() != 550 || a["invites.attempt"].AsInt64() != 2 {
		t.Errorf("the second attempt %v", a)
	}
	m = s.metrics(t)
	if n := counter(t, m, "invites.delivery.attempts", attribute.String("invites.outcome", "failed"), attribute.String("smtp.reply_class", "5xx")); n != 1 {
		t.Errorf("%d failed attempts", n)
	}
	if n := counter(t, m, "invites.events", attribute.String("invites.event.type", "delivery_failed")); n != 1 {
		t.Errorf("%d delivery_failed events", n)
	}
	s.leaks(t, m, address)
}

func TestServiceOperationError(t *testing.T) {
	s := newService(t)
	if _, err := s.svc.Lookup(context.Background(), "not-a-token-"+address); err == nil {
		t.Fatal("Lookup of a made-up token succeeded")
	}
	l := s.span(t, "invites.Lookup")
	if l.Status.Code != codes.Error || attrs(l)["error.type"].AsString() != "invalid_token" {
		t.Errorf("Lookup's status %v, attributes %v", l.Status, l.Attributes)
	}
	m := s.metrics(t)
	p := histogram(t, m, "invites.operation.duration", attribute.String("invites.operation.name", "lookup"),
		attribute.String("invites.outcome", "error"), attribute.String("error.type", "invalid_token"))
	if p.Count != 1 {
		t.Errorf("%d Lookup durations", p.Count)
	}
	s.leaks(t, m, address)
}
