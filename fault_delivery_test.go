package invites_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
	"github.com/invitekit/invites/mailer/mailertest"
)

// hookMailer is a mailertest.Mailer that calls before ahead of each send,
// outside the Mailer's lock, so a test can act mid-batch.
type hookMailer struct {
	*mailertest.Mailer
	before func(n int64) // n counts the sends, this one included
	n      atomic.Int64
}

func (m *hookMailer) Send(ctx context.Context, msg invites.Message) error {
	m.before(m.n.Add(1))
	return m.Mailer.Send(ctx, msg)
}

// queue sends n invites in one batch and returns their ids.
func queue(t *testing.T, svc *invites.Service, n int) []uuid.UUID {
	t.Helper()
	items := make([]invites.NewInvite, n)
	for i := range items {
		items[i].Email = fmt.Sprintf("user%d@example.com", i)
	}
	res, err := svc.Send(t.Context(), admin, items)
	if err != nil || len(res.Success) != n {
		t.Fatalf("Send = %d stored, %+v, %v", len(res.Success), res.Errors, err)
	}
	ids := make([]uuid.UUID, n)
	for i, inv := range res.Success {
		ids[i] = inv.ID
	}
	return ids
}

// sentPer counts the emails mail sent per invite.
func sentPer(mail *mailertest.Mailer) map[uuid.UUID]int {
	out := map[uuid.UUID]int{}
	for _, m := range mail.Messages() {
		out[m.Invite.ID]++
	}
	return out
}

// awaitAll waits until every invite of ids has an email, or deadline; it
// reports whether they all do.
func awaitAll(mail *mailertest.Mailer, ids []uuid.UUID, deadline time.Time) bool {
	for {
		got := sentPer(mail)
		missing := 0
		for _, id := range ids {
			if got[id] == 0 {
				missing++
			}
		}
		if missing == 0 {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// run starts svc.Run until the returned stop is called; stop waits for Run
// to return, failing the test if it takes longer than 10 seconds.
func run(t *testing.T, svc *invites.Service) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	var once sync.Once
	stop = func() { once.Do(func() { wait(t, cancel, done) }) }
	t.Cleanup(stop)
	return stop
}

// wait cancels Run's context and waits for Run to return.
func wait(t *testing.T, cancel func(), done <-chan error) {
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Errorf("Run did not return within 10s of its context ending")
	}
}

// The database goes away while Run is delivering and comes back 2 s
// later: every queued email goes out exactly once, within seconds of its
// return, not after DeliveryLease (left at its default of minutes).
func TestDeliveryResumesAfterOutage(t *testing.T) {
	f := newFaultDB(t)
	mail := &hookMailer{Mailer: mailertest.New()}
	svc := faultService(t, f.via, mail, func(c *invites.Config) {
		c.PollInterval = 200 * time.Millisecond
		c.DeliveryWorkers = 2
	})
	const n = 40
	ids := queue(t, svc, n)
	restored := cutAtFifth(f, mail, 2*time.Second)
	run(t, svc)
	var back time.Time
	select {
	case back = <-restored:
	case <-time.After(10 * time.Second):
		t.Fatal("no email went out: the cut never happened")
	}
	if !awaitAll(mail.Mailer, ids, back.Add(5*time.Second)) {
		t.Fatalf("5s after the database came back, %d of %d invites have an email", len(sentPer(mail.Mailer)), n)
	}
	time.Sleep(time.Second) // a duplicate has its chance to show
	for id, k := range sentPer(mail.Mailer) {
		if k != 1 {
			t.Errorf("invite %s got %d emails, want exactly 1", id, k)
		}
	}
}

// A Service stopped abruptly mid-batch (its Run's context ends as its
// connections are cut, so it can record nothing) and a second Service
// started on the same database: every email goes out, after at most the
// lease of the claims the first left behind.
func TestDeliveryTakenOverAfterCrash(t *testing.T) {
	f := newFaultDB(t)
	const lease = 3 * time.Second
	tune := func(c *invites.Config) {
		c.DeliveryLease = lease
		c.SendTimeout = time.Second
		c.PollInterval = 200 * time.Millisecond
		c.DeliveryWorkers = 2
	}
	mail := &hookMailer{Mailer: mailertest.New(), before: func(int64) {}}
	first := faultService(t, f.via, mail, tune)
	const n = 40
	ids := queue(t, first, n)
	crashed := make(chan time.Time, 1)
	mail.before = func(k int64) {
		if k == 5 {
			f.proxy.Cut()
			crashed <- time.Now()
		}
	}
	stopFirst := run(t, first)
	var at time.Time
	select {
	case at = <-crashed:
		stopFirst()
	case <-time.After(10 * time.Second):
		t.Fatal("no email went out: the crash never happened")
	}
	second := faultService(t, f.direct, mail.Mailer, tune)
	run(t, second)
	if !awaitAll(mail.Mailer, ids, at.Add(lease+5*time.Second)) {
		t.Fatalf("%v after the crash (lease %v), %d of %d invites have an email",
			lease+5*time.Second, lease, len(sentPer(mail.Mailer)), n)
	}
	dups := 0
	for _, k := range sentPer(mail.Mailer) {
		dups += k - 1
	}
	t.Logf("%d emails for %d invites: %d sent again after the crash", len(mail.Messages()), n, dups)
}

// cutAtFifth cuts the line to the database as mail sends its fifth email,
// for outage, and tells when it is back.
func cutAtFifth(f *faultDB, mail *hookMailer, outage time.Duration) <-chan time.Time {
	restored := make(chan time.Time, 1)
	mail.before = func(k int64) {
		if k == 5 {
			f.proxy.Cut()
			time.AfterFunc(outage, func() {
				f.proxy.Restore()
				restored <- time.Now()
			})
		}
	}
	return restored
}
