package invites_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
	"github.com/invitekit/invites/mailer"
)

// observer is an Observer that keeps what it was told, and marks each
// operation's context so a test sees the Service run in it.
type observer struct {
	mu       sync.Mutex
	ops      []opRecord
	attempts []attemptRecord
	events   map[invites.EventType]int
	trace    string
	stats    []func(context.Context) (invites.Stats, error)
}

type opRecord struct {
	info  invites.OpInfo
	res   invites.OpResult
	ended int
}

type attemptRecord struct {
	d   invites.Delivery
	res invites.AttemptResult
}

type opKey struct{}

func (r *observer) StartOp(ctx context.Context, op invites.OpInfo) (context.Context, func(invites.OpResult)) {
	r.mu.Lock()
	i := len(r.ops)
	r.ops = append(r.ops, opRecord{info: op})
	r.mu.Unlock()
	return context.WithValue(ctx, opKey{}, op.Name), func(res invites.OpResult) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.ops[i].res = res
		r.ops[i].ended++
	}
}

func (r *observer) StartAttempt(ctx context.Context, d invites.Delivery) (context.Context, func(invites.AttemptResult)) {
	return ctx, func(res invites.AttemptResult) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.attempts = append(r.attempts, attemptRecord{d, res})
	}
}

func (r *observer) Events(_ context.Context, t invites.EventType, n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events[t] += n
}

// Trace answers r.trace inside an operation only, as a tracer answers
// the span of ctx.
func (r *observer) Trace(ctx context.Context) string {
	if ctx.Value(opKey{}) == nil {
		return ""
	}
	return r.trace
}

func (r *observer) WatchStats(f func(context.Context) (invites.Stats, error)) {
	r.stats = append(r.stats, f)
}

// last returns the last operation named name, and fails unless it ended
// exactly once.
func (r *observer) last(t *testing.T, name string) opRecord {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.ops) - 1; i >= 0; i-- {
		if r.ops[i].info.Name == name {
			if r.ops[i].ended != 1 {
				t.Fatalf("%s ended %d times", name, r.ops[i].ended)
			}
			return r.ops[i]
		}
	}
	t.Fatalf("no %s was observed; saw %v", name, r.ops)
	return opRecord{}
}

func newObserved(t *testing.T) (*harness, *observer) {
	rec := &observer{events: map[invites.EventType]int{}, trace: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
	h := newHarness(t, func(c *invites.Config) { c.Observer = rec })
	if len(rec.stats) != 1 {
		t.Fatalf("New called WatchStats %d times", len(rec.stats))
	}
	return h, rec
}

func TestObserverSeesEveryOperation(t *testing.T) {
	h, rec := newObserved(t)
	ctx := context.Background()
	inv, tok := h.invite(admin, "ada@example.com")
	if op := rec.last(t, invites.OpNameSend); op.info.TenantID != "acme" || op.info.Batch != 1 || op.res.Count != 1 || op.res.Err != nil {
		t.Errorf("Send observed as %+v", op)
	}
	calls := []struct {
		name string
		call func() error
		id   uuid.UUID // the invite the result names, when learned by token
	}{
		{invites.OpNameGet, func() error { _, err := h.svc.Get(ctx, admin, inv.ID); return err }, uuid.Nil},
		{invites.OpNameList, func() error { _, err := h.svc.List(ctx, admin, invites.Query{}); return err }, uuid.Nil},
		{invites.OpNameHistory, func() error { _, err := h.svc.History(ctx, admin, inv.ID); return err }, uuid.Nil},
		{invites.OpNameLookup, func() error { _, err := h.svc.Lookup(ctx, tok); return err }, inv.ID},
		{invites.OpNameCheck, func() error { _, err := h.svc.Check(ctx, tok); return err }, inv.ID},
		{invites.OpNameUpdate, func() error {
			n := "Ada"
			_, err := h.svc.Update(ctx, admin, inv.ID, invites.Update{FirstName: &n})
			return err
		}, uuid.Nil},
		{invites.OpNameAccept, func() error {
			_, err := h.svc.Accept(ctx, tok, invites.Acceptor{UserID: "u-ada"})
			return err
		}, inv.ID},
	}
	for _, c := range calls {
		if err := c.call(); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		op := rec.last(t, c.name)
		if op.res.Err != nil || op.res.InviteID != c.id {
			t.Errorf("%s observed as %+v", c.name, op)
		}
	}
	if op := rec.last(t, invites.OpNameList); op.res.Count != 1 || op.info.TenantID != "acme" {
		t.Errorf("List observed as %+v", op)
	}
	if op := rec.last(t, invites.OpNameHistory); op.res.Count != 2 || op.info.InviteID != inv.ID {
		t.Errorf("History observed as %+v, want 2 events (created, sent)", op)
	}

	// A refusal is observed with its error; Check of junk is no error.
	if _, err := h.svc.Cancel(ctx, admin, inv.ID); !errors.Is(err, invites.ErrNotPending) {
		t.Fatalf("Cancel of an accepted invite: %v", err)
	}
	if op := rec.last(t, invites.OpNameCancel); !errors.Is(op.res.Err, invites.ErrNotPending) || op.info.InviteID != inv.ID {
		t.Errorf("Cancel observed as %+v", op)
	}
	if _, err := h.svc.Decline(ctx, "junk"); !errors.Is(err, invites.ErrInvalidToken) {
		t.Fatal(err)
	}
	if op := rec.last(t, invites.OpNameDecline); !errors.Is(op.res.Err, invites.ErrInvalidToken) {
		t.Errorf("Decline observed as %+v", op)
	}
	other := h.send(admin, "bob@example.com")[0]
	h.advance(invites.DefaultResendCooldown)
	if _, err := h.svc.Resend(ctx, admin, other.ID); err != nil {
		t.Fatal(err)
	}
	rec.last(t, invites.OpNameResend)
	if _, err := h.svc.Cancel(ctx, admin, other.ID); err != nil {
		t.Fatal(err)
	}
	ids, err := h.svc.Forget(ctx, admin, "BOB@example.com")
	if err != nil || len(ids) != 1 {
		t.Fatalf("Forget = %v, %v", ids, err)
	}
	if op := rec.last(t, invites.OpNameForget); op.res.Count != 1 {
		t.Errorf("Forget observed as %+v", op)
	}
	if err := h.svc.RecordBounce(ctx, "<"+uuid.New().String()+"@x.test>", true, "550"); !errors.Is(err, invites.ErrNotFound) {
		t.Fatalf("RecordBounce of no delivery: %v", err)
	}
	if op := rec.last(t, invites.OpNameRecordBounce); !errors.Is(op.res.Err, invites.ErrNotFound) {
		t.Errorf("RecordBounce observed as %+v", op)
	}

	want := map[invites.EventType]int{
		invites.EventCreated: 2, invites.EventSent: 1, invites.EventAccepted: 1,
		invites.EventResent: 1, invites.EventCanceled: 1, invites.EventForgotten: 1,
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for typ, n := range want {
		if rec.events[typ] != n {
			t.Errorf("events %s = %d, want %d (all: %v)", typ, rec.events[typ], n, rec.events)
		}
	}
	for _, op := range rec.ops {
		if op.ended != 1 {
			t.Errorf("%s ended %d times", op.info.Name, op.ended)
		}
	}
}

// TestObserverSeesAttempts: an attempt carries the trace of the send that
// queued it and when it was queued; its end says how it went, with the
// SMTP reply of a refusal.
func TestObserverSeesAttempts(t *testing.T) {
	h, rec := newObserved(t)
	h.send(admin, "ada@example.com")
	h.mail.FailNext(1, errors.New("connection reset"))
	h.deliver() // retried
	h.advance(invites.DefaultRetryMax)
	h.deliver() // sent
	h.send(admin, "bob@example.com")
	h.mail.FailNext(1, &mailer.ReplyError{Command: "RCPT", Code: 550, Message: "no such user"})
	h.deliver() // failed for good

	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.attempts) != 3 {
		t.Fatalf("%d attempts observed, want 3", len(rec.attempts))
	}
	want := []struct {
		status invites.DeliveryStatus
		reply  int
	}{{invites.DeliveryQueued, 0}, {invites.DeliverySent, 0}, {invites.DeliveryFailed, 550}}
	for i, a := range rec.attempts {
		if a.res.Status != want[i].status || a.res.Reply != want[i].reply {
			t.Errorf("attempt %d ended %+v, want %+v", i, a.res, want[i])
		}
		if a.d.Trace != rec.trace {
			t.Errorf("attempt %d carries trace %q, want the send's %q", i, a.d.Trace, rec.trace)
		}
		if a.d.QueuedAt.IsZero() || a.res.At.Before(a.d.QueuedAt) {
			t.Errorf("attempt %d queued at %v, ended at %v", i, a.d.QueuedAt, a.res.At)
		}
		if a.res.Err != nil && strings.Contains(a.res.Err.Error(), "token=") {
			t.Errorf("attempt %d error carries a link: %v", i, a.res.Err)
		}
	}
	if !rec.attempts[1].res.At.After(rec.attempts[1].d.QueuedAt) {
		t.Errorf("the retried email's wait is not counted from its first queueing")
	}
	if rec.events[invites.EventSent] != 1 || rec.events[invites.EventDeliveryFailed] != 1 {
		t.Errorf("events %v, want one sent and one delivery_failed", rec.events)
	}
	if !slices.ContainsFunc(rec.ops, func(o opRecord) bool { return o.info.Name == invites.OpNameSend }) {
		t.Error("no Send observed")
	}
}

// A bounce's reason, written by the recipient's server, reaches the
// inviter as plain text of bounded size: no control or bidi characters.
func TestRecordBounceReasonIsPlainText(t *testing.T) {
	h, _ := newObserved(t)
	inv, _ := h.invite(admin, "ada@example.com")
	id := h.mail.Messages()[0].ID
	reason := "550\r\n5.1.1 \u202Egro.elpmaxe\u202C no\x00 such user" + strings.Repeat("é", invites.MaxBounceReasonBytes)
	if err := h.svc.RecordBounce(context.Background(), "<"+id+"@mail.test>", true, reason); err != nil {
		t.Fatal(err)
	}
	got := h.get(admin, inv)
	if got.DeliveryStatus != invites.DeliveryFailed || !strings.HasPrefix(got.DeliveryError, "hard bounce: 550  5.1.1 gro.elpmaxe no  such user") {
		t.Fatalf("after the bounce: %s %q", got.DeliveryStatus, got.DeliveryError[:min(80, len(got.DeliveryError))])
	}
	if len(got.DeliveryError) > invites.MaxBounceReasonBytes || strings.ContainsFunc(got.DeliveryError, func(r rune) bool { return r < ' ' || r == '\u202E' || r == utf8.RuneError }) {
		t.Errorf("the reason kept %d bytes or unprintable characters", len(got.DeliveryError))
	}
}
