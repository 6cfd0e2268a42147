package invites

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Run delivers queued email, marks invites expired and hands events to
// Config.OnEvent until ctx ends, then returns nil. It wakes at once when
// this process queues a delivery and every PollInterval for those queued by
// others or due for retry. Several Runs, in one process or many, share the
// work: the Store hands each delivery and event to one of them.
func (s *Service) Run(ctx context.Context) error {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-s.wake:
		}
		if _, err := s.DeliverPending(ctx); err != nil && ctx.Err() == nil {
			s.cfg.Logger.ErrorContext(ctx, "invites: delivery pass failed", "err", err)
		}
		if _, err := s.ExpireDue(ctx); err != nil && ctx.Err() == nil {
			s.cfg.Logger.ErrorContext(ctx, "invites: expiry pass failed", "err", err)
		}
		if _, err := s.DispatchEvents(ctx); err != nil && ctx.Err() == nil {
			s.cfg.Logger.ErrorContext(ctx, "invites: event pass failed", "err", err)
		}
		t.Reset(s.cfg.PollInterval)
	}
}

// DeliverPending makes one pass over the outbox: it claims due deliveries
// batch by batch until none is left, sends each, and records the outcome.
// It returns how many emails went out. A failed send is not an error here:
// it is recorded on the delivery and retried later.
func (s *Service) DeliverPending(ctx context.Context) (int, error) {
	var sent atomic.Int64
	for ctx.Err() == nil {
		batch, err := s.store.ClaimDeliveries(ctx, s.cfg.Now(), s.cfg.DeliveryBatch, s.cfg.DeliveryLease)
		if err != nil {
			return int(sent.Load()), err
		}
		if len(batch) == 0 {
			break
		}
		next := make(chan Delivery)
		var wg sync.WaitGroup
		for range min(s.cfg.DeliveryWorkers, len(batch)) {
			wg.Go(func() {
				for d := range next {
					if s.deliver(ctx, d) {
						sent.Add(1)
					}
				}
			})
		}
		for _, d := range batch {
			next <- d
		}
		close(next)
		wg.Wait()
		if len(batch) < s.cfg.DeliveryBatch {
			break
		}
	}
	return int(sent.Load()), nil
}

// deliver mints the link of d, sends it, and records the outcome. It
// reports whether the email went out.
func (s *Service) deliver(ctx context.Context, d Delivery) bool {
	log := s.cfg.Logger.With("delivery", d.ID, "invite", d.InviteID, "attempt", d.Attempt)
	if ctx.Err() != nil {
		s.handBack(ctx, log, d, "worker stopped before sending")
		return false
	}
	tok, digest, err := s.cfg.Tokens.New()
	if err != nil {
		log.ErrorContext(ctx, "invites: minting a token failed", "err", err)
		return false // the lease runs out and another pass tries again
	}
	inv, err := s.store.SetToken(ctx, d, digest, s.cfg.Now().Add(s.cfg.TTL))
	if errors.Is(err, ErrStaleDelivery) {
		log.DebugContext(ctx, "invites: delivery no longer wanted")
		return false
	}
	if err != nil && ctx.Err() != nil {
		s.handBack(ctx, log, d, "worker stopped before sending")
		return false
	}
	if err != nil {
		log.ErrorContext(ctx, "invites: storing the token failed", "err", err)
		return false
	}
	msg := Message{ID: d.ID.String(), Kind: d.Kind, Invite: inv, Token: tok, AcceptURL: s.cfg.AcceptURL(tok)}
	sendCtx, cancel := context.WithTimeout(ctx, s.cfg.SendTimeout)
	err = s.mailer.Send(sendCtx, msg)
	cancel()

	now := s.cfg.Now()
	o := DeliveryOutcome{Status: DeliverySent, At: now}
	if err != nil {
		// A mailer or server may echo the message; its token goes no further.
		err = scrubbed{err, strings.ReplaceAll(err.Error(), tok.Reveal(), redacted)}
	}
	switch {
	case err == nil:
	case ctx.Err() != nil:
		s.handBack(ctx, log, d, "worker stopped during send")
		return false
	case errors.Is(err, ErrPermanent) || d.Attempt >= s.cfg.MaxAttempts:
		o.Status, o.Error = DeliveryFailed, err.Error()
		log.WarnContext(ctx, "invites: delivery failed for good", "err", err)
	default:
		o.Status, o.Error, o.RetryAt = DeliveryQueued, err.Error(), now.Add(s.backoff(d.Attempt))
		log.InfoContext(ctx, "invites: delivery will be retried", "err", err, "retryAt", o.RetryAt)
	}
	s.record(ctx, log, d, o)
	return o.Status == DeliverySent
}

// handBack returns the claim of a stopping worker at once, rather than
// leave the delivery to wait out its lease.
func (s *Service) handBack(ctx context.Context, log *slog.Logger, d Delivery, why string) {
	now := s.cfg.Now()
	s.record(ctx, log, d, DeliveryOutcome{Status: DeliveryQueued, RetryAt: now, Error: why, At: now})
}

// record stores o even when ctx has ended, so a stopping worker leaves no
// claim behind.
func (s *Service) record(ctx context.Context, log *slog.Logger, d Delivery, o DeliveryOutcome) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := s.store.CompleteDelivery(rctx, d, o); err != nil {
		log.WarnContext(ctx, "invites: recording the delivery outcome failed", "err", err)
	}
}

// backoff is the wait after attempt failed: RetryBase doubling per attempt
// up to RetryMax, drawn from its upper half so workers do not retry in step.
func (s *Service) backoff(attempt int) time.Duration {
	d := s.cfg.RetryBase
	for i := 1; i < attempt && d < s.cfg.RetryMax; i++ {
		d *= 2
	}
	d = min(d, s.cfg.RetryMax)
	return d/2 + rand.N(d/2+1)
}

// scrubbed is an error whose text had the token taken out; errors.Is still
// sees the original, so ErrPermanent keeps its meaning.
type scrubbed struct {
	err  error
	text string
}

func (e scrubbed) Error() string { return e.text }
func (e scrubbed) Unwrap() error { return e.err }
