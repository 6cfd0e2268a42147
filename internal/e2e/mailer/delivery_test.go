package mailer_test

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/invitekit/invites"
	"github.com/invitekit/invites/internal/e2e/smtptest"
)

// These tests run the delivery worker of invites.Service on memstore
// through the SMTP mailer into a real SMTP server.

var messageID = regexp.MustCompile(`^<[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}@acme\.test>$`)

func TestDeliveryEndToEnd(t *testing.T) {
	w := newWorld(t, func(c *invites.Config) { c.ResendCooldown = time.Minute })
	inv := w.send(invites.NewInvite{Email: "ann@example.test", FirstName: "<script>alert(1)</script>", LastName: "Lee", Locale: "de-AT"})[0]
	if n := w.deliver(w.svc); n != 1 {
		t.Fatalf("delivered %d", n)
	}
	first := parse(t, w.srv.Messages()[0])
	if got := first.header.Get("Message-Id"); !messageID.MatchString(got) {
		t.Fatalf("Message-ID %q", got)
	}
	if first.header.Get("To") != "<ann@example.test>" || first.subject != "Einladung zu acme" ||
		first.header.Get("Content-Language") != "de" {
		t.Fatalf("headers: %v, subject %q", first.header, first.subject)
	}
	if strings.Contains(first.html, "<script") || !strings.Contains(first.html, "Hallo &lt;script&gt;alert(1)&lt;/script&gt; Lee,") {
		t.Fatalf("the HTML part does not escape the name:\n%s", first.html)
	}
	if got := w.get(inv.ID); got.DeliveryStatus != invites.DeliverySent {
		t.Fatalf("after delivery: %+v", got)
	}

	// A resend mails a reminder with a new link; the old link dies.
	w.clock.Advance(time.Minute)
	if _, err := w.svc.Resend(ctx, admin, inv.ID); err != nil {
		t.Fatal(err)
	}
	if n := w.deliver(w.svc); n != 1 {
		t.Fatalf("delivered %d reminders", n)
	}
	second := parse(t, w.srv.Messages()[1])
	if !strings.HasPrefix(second.subject, "Erinnerung:") || second.header.Get("Message-Id") == first.header.Get("Message-Id") {
		t.Fatalf("reminder %q, Message-ID %s", second.subject, second.header.Get("Message-Id"))
	}
	if _, err := w.svc.Accept(ctx, first.token(t), invites.Acceptor{UserID: "u-ann"}); !errors.Is(err, invites.ErrInvalidToken) {
		t.Fatalf("the first link still works: %v", err)
	}

	got, err := w.svc.Accept(ctx, second.token(t), invites.Acceptor{UserID: "u-ann"})
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != inv.ID || got.Status != invites.StatusAccepted || got.AcceptedByUserID != "u-ann" {
		t.Fatalf("accepted: %+v", got)
	}
}

// refused is the error of a connection the server reset: during the
// handshake or before its greeting.
var refused = regexp.MustCompile(`^mailer: smtp (connect|greeting): .*(reset by peer|EOF)`)

func TestDeliveryServerDownThenUp(t *testing.T) {
	const n = 500
	w := newWorld(t)
	w.srv.Set(smtptest.Fault{Down: true})
	sent := w.sendN(n)

	// Every attempt fails and is recorded on its invite.
	if got := w.deliver(w.svc); got != 0 {
		t.Fatalf("delivered %d while down", got)
	}
	await(t, w.srv, func(s smtptest.Stats) bool { return s.Resets == n })
	if got := w.sends.Load(); got != n {
		t.Fatalf("%d first attempts", got)
	}
	for _, inv := range w.list() {
		if inv.DeliveryStatus != invites.DeliveryQueued || !refused.MatchString(inv.DeliveryError) {
			t.Fatalf("after the first attempt: %s %q", inv.DeliveryStatus, inv.DeliveryError)
		}
	}
	// Backoff: the first retry waits RetryBase/2 to RetryBase (30 s), the
	// second twice that.
	for _, step := range []struct {
		advance  time.Duration
		attempts int64
	}{
		{14 * time.Second, n},     // too early
		{16 * time.Second, 2 * n}, // second attempts, failing again
		{29 * time.Second, 2 * n}, // too early for the doubled wait
	} {
		w.clock.Advance(step.advance)
		w.deliver(w.svc)
		if got := w.sends.Load(); got != step.attempts {
			t.Fatalf("+%s: %d attempts, want %d", step.advance, got, step.attempts)
		}
	}
	await(t, w.srv, func(s smtptest.Stats) bool { return s.Resets == 2*n && s.Connections == 0 })

	// Up again: every invite is delivered, once.
	w.srv.Set(smtptest.Fault{})
	w.clock.Advance(31 * time.Second)
	if got := w.deliver(w.svc); got != n {
		t.Fatalf("delivered %d of %d once up", got, n)
	}
	w.clock.Advance(time.Hour)
	if got := w.deliver(w.svc); got != 0 {
		t.Fatalf("delivered %d again", got)
	}
	want := map[string]bool{}
	for _, inv := range sent {
		want[inv.Email] = true
	}
	ids := map[string]bool{}
	for _, m := range w.srv.Messages() {
		if len(m.To) != 1 || !want[m.To[0]] {
			t.Fatalf("unexpected recipients %v", m.To)
		}
		delete(want, m.To[0])
		ids[parse(t, m).header.Get("Message-Id")] = true
	}
	if len(want) != 0 || len(ids) != n {
		t.Fatalf("%d invites got no email; %d distinct Message-IDs", len(want), len(ids))
	}
	for _, inv := range w.list() {
		if inv.DeliveryStatus != invites.DeliverySent || inv.DeliveryError != "" {
			t.Fatalf("after delivery: %s %q", inv.DeliveryStatus, inv.DeliveryError)
		}
	}
}

func TestDeliveryStalledServer(t *testing.T) {
	const sendTimeout = 250 * time.Millisecond
	w := newWorld(t, func(c *invites.Config) { c.SendTimeout = sendTimeout })
	w.srv.Set(smtptest.Fault{Stall: true})
	sent := w.sendN(8) // two rounds of the 4 workers, all stalled

	var delivered int
	start := time.Now()
	within(t, 10*time.Second, func() { delivered = w.deliver(w.svc) })
	if took := time.Since(start); delivered != 0 || took < sendTimeout {
		t.Fatalf("delivered %d in %s", delivered, took)
	}
	if st := w.srv.Stats(); st.Stalls != 8 {
		t.Fatalf("%+v", st)
	}
	for _, inv := range w.list() {
		if inv.DeliveryStatus != invites.DeliveryQueued || !strings.Contains(inv.DeliveryError, "deadline exceeded") {
			t.Fatalf("after the stall: %s %q", inv.DeliveryStatus, inv.DeliveryError)
		}
	}
	w.srv.Set(smtptest.Fault{})
	w.clock.Advance(time.Minute)
	if got := w.deliver(w.svc); got != len(sent) {
		t.Fatalf("delivered %d after the stall", got)
	}
}

func TestDeliveryReplies(t *testing.T) {
	for _, c := range []struct {
		fault  smtptest.Fault
		status invites.DeliveryStatus // after the first attempt
		error  string
	}{
		{smtptest.Fault{RefuseRcpt: 550}, invites.DeliveryFailed, "smtp RCPT: 550 5.0.0 smtptest refuses with 550"},
		{smtptest.Fault{RefuseData: 554}, invites.DeliveryFailed, "smtp DATA: 554 5.0.0 smtptest refuses with 554"},
		{smtptest.Fault{RefuseRcpt: 451}, invites.DeliveryQueued, "smtp RCPT: 451 4.0.0 smtptest refuses with 451"},
		{smtptest.Fault{RefuseData: 452}, invites.DeliveryQueued, "smtp DATA: 452 4.0.0 smtptest refuses with 452"},
	} {
		t.Run(c.error[5:14], func(t *testing.T) {
			w := newWorld(t)
			w.srv.Set(c.fault)
			inv := w.send(invites.NewInvite{Email: "ann@example.test"})[0]
			w.deliver(w.svc)
			got := w.get(inv.ID)
			if got.DeliveryStatus != c.status || got.DeliveryError != "mailer: "+c.error {
				t.Fatalf("after one attempt: %s %q", got.DeliveryStatus, got.DeliveryError)
			}
			w.srv.Set(smtptest.Fault{})
			w.clock.Advance(48 * time.Hour)
			w.deliver(w.svc)
			st, got := w.srv.Stats(), w.get(inv.ID)
			if c.status == invites.DeliveryFailed {
				if st.Transactions != 1 || got.DeliveryStatus != invites.DeliveryFailed {
					t.Fatalf("a permanent failure was retried: %+v, %s", st, got.DeliveryStatus)
				}
				return
			}
			if st.Transactions != 2 || st.Messages != 1 || got.DeliveryStatus != invites.DeliverySent {
				t.Fatalf("a temporary failure was not retried: %+v, %s", st, got.DeliveryStatus)
			}
		})
	}
}

// await waits, for at most 10 seconds, until the server's stats satisfy cond.
func await(t *testing.T, srv *smtptest.Server, cond func(smtptest.Stats) bool) {
	t.Helper()
	actx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := srv.Await(actx, cond); err != nil {
		t.Fatalf("server stats %+v: %v", srv.Stats(), err)
	}
}

func TestRunCanceledMidSendLeavesNothingClaimed(t *testing.T) {
	w := newWorld(t) // SendTimeout 30 s: only the cancel can end the sends
	w.srv.Set(smtptest.Fault{Stall: true})
	w.sendN(20)
	stop := run(t, w.svc)
	await(t, w.srv, func(s smtptest.Stats) bool { return s.Stalls == 4 }) // every worker mid-send
	if took := stop(); took > 5*time.Second {
		t.Fatalf("Run took %s to return", took)
	}
	// Another worker, at the same instant, finds every delivery free.
	w.srv.Set(smtptest.Fault{})
	if got := w.deliver(w.service(w.store)); got != 20 {
		t.Fatalf("delivered %d of 20", got)
	}
}

// killed is a Store whose worker dies before it records an outcome: its
// claims hold until their lease runs out.
type killed struct{ invites.Store }

func (killed) CompleteDeliveries(context.Context, invites.CompleteParams) error {
	return errors.New("the worker was killed")
}

func TestKilledWorkerDeliveryReclaimedAfterLease(t *testing.T) {
	w := newWorld(t, func(c *invites.Config) { c.DeliveryLease = 2 * time.Minute })
	w.srv.Set(smtptest.Fault{Stall: true})
	inv := w.send(invites.NewInvite{Email: "ann@example.test"})[0]
	stop := run(t, w.service(killed{w.store}))
	await(t, w.srv, func(s smtptest.Stats) bool { return s.Stalls == 1 })
	if took := stop(); took > 5*time.Second {
		t.Fatalf("Run took %s to return", took)
	}

	w.srv.Set(smtptest.Fault{})
	if got := w.deliver(w.svc); got != 0 {
		t.Fatal("delivered while the dead worker's lease held")
	}
	w.clock.Advance(2 * time.Minute)
	if got := w.deliver(w.svc); got != 1 {
		t.Fatal("not reclaimed after the lease")
	}
	if got := w.get(inv.ID); got.DeliveryStatus != invites.DeliverySent || len(w.srv.Messages()) != 1 {
		t.Fatalf("after reclaim: %+v, %d messages", got, len(w.srv.Messages()))
	}
}

func TestRedeliveryKeepsMessageID(t *testing.T) {
	w := newWorld(t)
	w.send(invites.NewInvite{Email: "ann@example.test"})
	// The email goes out, but its worker dies before recording it.
	w.deliver(w.service(killed{w.store}))
	w.clock.Advance(2 * time.Minute)
	if got := w.deliver(w.svc); got != 1 {
		t.Fatalf("redelivered %d", got)
	}
	msgs := w.srv.Messages()
	if len(msgs) != 2 {
		t.Fatalf("%d messages", len(msgs))
	}
	a, b := parse(t, msgs[0]).header.Get("Message-Id"), parse(t, msgs[1]).header.Get("Message-Id")
	if a != b || !messageID.MatchString(a) {
		t.Fatalf("Message-IDs %s and %s", a, b)
	}
}

func TestRunWithCanceledContext(t *testing.T) {
	w := newWorld(t)
	w.sendN(5)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	within(t, 5*time.Second, func() {
		if err := w.svc.Run(cctx); err != nil {
			t.Error(err)
		}
	})
	if got := w.deliver(w.service(w.store)); got != 5 {
		t.Fatalf("delivered %d of 5 after a canceled Run", got)
	}
	if st := w.srv.Stats(); st.Messages != 5 {
		t.Fatalf("%+v", st)
	}
}
