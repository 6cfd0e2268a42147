package invites_test

import (
	"context"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
	"github.com/invitekit/invites/httpadapter"
)

// stuckMailer blocks the sends to stuck (every send when stuck is ""),
// ignoring their context, until release is closed; it tells of each such
// send on blocked, while there is room.
type stuckMailer struct {
	invites.Mailer
	stuck   string
	blocked chan struct{}
	release chan struct{}
}

func (m *stuckMailer) Send(ctx context.Context, msg invites.Message) error {
	if m.stuck == "" || msg.Invite.Email == m.stuck {
		select {
		case m.blocked <- struct{}{}:
		default:
		}
		<-m.release
	}
	return m.Mailer.Send(ctx, msg)
}

// A pass stuck in a step that ignores its context (a Mailer here) does
// not stop the worker: Run notices the pass overran, starts anew, and
// the emails queued meanwhile go out; the stuck one's lease runs out and
// it goes too once the Mailer answers again.
func TestRunStartsAnewAfterAStuckPass(t *testing.T) {
	h := newHarness(t)
	m := &stuckMailer{Mailer: h.mail, stuck: "stuck@example.com", blocked: make(chan struct{}, 8), release: make(chan struct{})}
	svc, err := invites.New(h.store, m, invites.Config{AcceptURL: func(invites.Token) string { return "/" }, Now: time.Now,
		PollInterval: 50 * time.Millisecond, PassTimeout: 300 * time.Millisecond, StoreTimeout: 100 * time.Millisecond,
		DeliveryLease: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, svc)
	var once sync.Once
	free := func() { once.Do(func() { close(m.release) }) }
	t.Cleanup(free)
	res, err := svc.Send(t.Context(), admin, []invites.NewInvite{{Email: "stuck@example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-m.blocked:
	case <-time.After(5 * time.Second):
		t.Fatal("the stuck send never started")
	}
	ids := queue(t, svc, 3)
	if !awaitAll(h.mail, ids, time.Now().Add(5*time.Second)) {
		t.Fatalf("5 s into a stuck pass, %d of 3 emails queued after it went out: Run is stuck with it", len(h.mail.Messages()))
	}
	// The pass that sent them returns once it recorded them.
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		st, err := svc.Stats(t.Context())
		if err == nil && time.Since(st.LastPassAt) < 200*time.Millisecond && !st.WorkerStalled {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Stats = last pass %v, stalled %v, %v; want a pass within 200 ms", st.LastPassAt, st.WorkerStalled, err)
		}
	}
	free()
	if !awaitAll(h.mail, []uuid.UUID{res.Success[0].ID}, time.Now().Add(5*time.Second)) {
		t.Fatal("the stuck email did not go once the Mailer answered")
	}
	stop()
}

// A worker whose every pass hangs is reported: Stats.WorkerStalled once no
// pass finished in twice PassTimeout, and Ready answers 503, so the
// orchestrator restarts the process. Without a Run in the process, Stats
// says nothing of a worker and Ready is ready.
func TestReadyReportsAStalledWorker(t *testing.T) {
	h := newHarness(t)
	// Every send hangs, ignoring its context: each pass claims an email
	// or two and hangs on it, and the next claims others.
	m := &stuckMailer{Mailer: h.mail, blocked: make(chan struct{}, 64), release: make(chan struct{})}
	svc, err := invites.New(h.store, m, invites.Config{AcceptURL: func(invites.Token) string { return "/" },
		Now: time.Now, PollInterval: 50 * time.Millisecond, PassTimeout: 200 * time.Millisecond, StoreTimeout: 50 * time.Millisecond,
		DeliveryWorkers: 1, DeliveryBatch: 1})
	if err != nil {
		t.Fatal(err)
	}
	queue(t, svc, 40)
	ready := httpadapter.Ready(svc)
	probe := func() int {
		w := httptest.NewRecorder()
		ready.ServeHTTP(w, httptest.NewRequest("GET", "/readyz", nil))
		return w.Code
	}
	if st, err := svc.Stats(t.Context()); err != nil || !st.LastPassAt.IsZero() || st.WorkerStalled {
		t.Fatalf("Stats without Run = %+v, %v", st, err)
	}
	if code := probe(); code != 200 {
		t.Fatalf("Ready without Run = %d, want 200", code)
	}
	stop := run(t, svc)
	time.Sleep(600 * time.Millisecond)
	st, err := svc.Stats(t.Context())
	if err != nil || !st.WorkerStalled {
		t.Fatalf("Stats with every pass hanging = %+v, %v; want WorkerStalled", st, err)
	}
	time.Sleep(1100 * time.Millisecond) // past the answer Ready keeps for a second
	if code := probe(); code != 503 {
		t.Fatalf("Ready with a stalled worker = %d, want 503", code)
	}
	close(m.release)
	stop()
}
