package invites

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// One pass of DeliverPending: the claimer (claimAll, claim, renew),
// the senders (deliver) and the recorder (record, flush), and the claims in
// flight between them.

// recordGroup bounds how many outcomes one CompleteDeliveries writes, and
// recordLinger how long the recorder waits for more after the first: a
// tenth of a second of an outcome's bookkeeping (which a crash in it only
// makes repeat, after the lease), against a transaction per handful of
// emails when several workers share the database.
const (
	recordGroup  = 500
	recordLinger = 100 * time.Millisecond
)

// recordBackoff is the first wait before recording outcomes again after
// the store failed; it doubles up to recordBackoffMax. The recorder tries
// for as long as the outcomes' claims hold, whatever the failure (a
// read-only database says so in its own words), but for one the store
// keeps answering while it renews their leases: that is no outage, and
// it gives up after recordTries of those. A stopping worker tries for
// recordFinal more, each try bounded by recordTimeout.
const (
	recordBackoff    = 50 * time.Millisecond
	recordBackoffMax = 500 * time.Millisecond
	recordTries      = 12
	recordTimeout    = 5 * time.Second
	recordFinal      = 3 * time.Second
)

// claimRetry is the first wait before a pass claims again after a claim
// failed while it still has emails in flight; it doubles up to a second.
const claimRetry = 100 * time.Millisecond

// renewSlack sets how short of TTL a link may live before the claim
// renews its invite's expiry: by a hundredth of it (about 100 minutes of
// a week), so a claim soon after the send writes nothing to the invite.
const renewSlack = 100

// pass is one DeliverPending: a claimer (this goroutine), senders and a
// recorder joined by two queues.
type pass struct {
	s   *Service
	ctx context.Context

	jobs    chan job             // claimed, waiting for a sender
	results chan DeliveryOutcome // sent or handed back, waiting for the recorder
	changed chan struct{}        // a sender took a job or a flight ended

	mu     sync.Mutex
	flying map[uuid.UUID]*flight // claimed and not yet recorded, by delivery ID

	sent    atomic.Int64
	renewed atomic.Int64 // when a renewal last succeeded, in Unix nanoseconds
}

// flight is a claim in this process: what its lease is known to be.
type flight struct {
	d     Delivery
	until time.Time // the lease's end as last claimed or renewed
	lost  bool      // a renewal found another worker holds it now
}

type job struct {
	c   Claim
	tok Token
}

func (p *pass) run() (int, error) {
	var senders, recorder sync.WaitGroup
	for range p.s.cfg.DeliveryWorkers {
		senders.Go(func() {
			for j := range p.jobs {
				p.signal()
				p.deliver(j)
			}
		})
	}
	recorder.Go(p.record)
	err := p.claimAll()
	close(p.jobs)
	senders.Wait()
	close(p.results)
	recorder.Wait()
	if p.ctx.Err() != nil {
		// A claim whose reply a stopping worker lost goes back now, not
		// after its lease.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(p.ctx), settleFinal)
		if err := p.s.settle(ctx); err != nil {
			p.s.cfg.Logger.WarnContext(ctx, "invites: releasing a claim whose reply was lost failed; its emails go after the lease", "err", err)
		}
		cancel()
	}
	if errors.Is(err, context.Canceled) && p.ctx.Err() != nil {
		err = nil // a stopping worker is not a failed pass
	}
	return int(p.sent.Load()), err
}

func (p *pass) signal() {
	select {
	case p.changed <- struct{}{}:
	default:
	}
}

// claimAll claims while the senders have less than half a batch waiting,
// until a claim comes back empty or fails, renewing the leases in flight,
// and returns once every flight has ended. After a failed claim it claims
// again, with backoff, while it still has emails in flight (their
// outcomes may wait for the store), so the outbox goes on as soon as the
// store is back rather than after this pass.
func (p *pass) claimAll() error {
	renew := time.NewTicker(max(p.s.cfg.DeliveryLease/3, time.Millisecond))
	defer renew.Stop()
	var (
		err   error
		retry <-chan time.Time
		wait  time.Duration
	)
	stop := p.ctx.Done() // nil once it has fired
	claiming := true
	for {
		if claiming && len(p.jobs) <= p.s.cfg.DeliveryBatch/2 {
			var n int
			n, err = p.claim()
			claiming = err == nil && n > 0
			switch {
			case err == nil:
				wait = 0
			case stop != nil && p.inFlight() > 0:
				wait = min(max(2*wait, claimRetry), time.Second)
				retry = time.After(wait)
			}
			continue
		}
		if !claiming && retry == nil && p.inFlight() == 0 {
			return err
		}
		select {
		case <-stop:
			claiming, stop, retry = false, nil, nil
		case <-p.changed:
			if retry != nil && errors.Is(err, errBehind) && p.s.outbox.behind.Load() == 0 {
				claiming, retry = true, nil // the outcomes it waited for are in
			}
		case <-retry:
			claiming, retry = true, nil
		case <-renew.C:
			p.renew()
		}
	}
}

func (p *pass) inFlight() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.flying)
}

// claim takes a batch with its tokens and queues it for the senders.
// A claim that failed may have committed: it is kept to be released
// (see outbox) before the next claim.
func (p *pass) claim() (int, error) {
	if p.ctx.Err() != nil {
		return 0, nil
	}
	if err := p.s.settle(p.ctx); err != nil {
		return 0, err
	}
	if p.s.outbox.behind.Load() > 0 {
		return 0, errBehind
	}
	cfg := &p.s.cfg
	n := cfg.DeliveryBatch
	toks := make([]Token, n)
	digests := make([][]byte, n)
	for i := range n {
		var err error
		if toks[i], digests[i], err = cfg.Tokens.New(); err != nil {
			return 0, err
		}
	}
	now, id := cfg.Now(), uuid.New()
	claims, err := p.s.store.ClaimDeliveries(p.ctx, ClaimParams{
		Now: now, Limit: n, Lease: cfg.DeliveryLease, Digests: digests,
		ExpiresAt: now.Add(cfg.TTL), RenewBefore: now.Add(cfg.TTL - cfg.TTL/renewSlack), ClaimID: id,
	})
	if err != nil {
		p.s.outbox.unsettle(ReleaseParams{ClaimID: id, Digests: digests})
		return 0, err
	}
	p.mu.Lock()
	for _, c := range claims {
		p.flying[c.ID] = &flight{d: c.Delivery, until: now.Add(cfg.DeliveryLease)}
	}
	p.mu.Unlock()
	for i, c := range claims {
		p.jobs <- job{c, toks[i]}
	}
	return len(claims), nil
}

// renew extends the leases in flight, those of outcomes waiting for the
// store too, and marks those another worker took over so they are not
// sent twice, nor their outcomes kept.
func (p *pass) renew() {
	p.mu.Lock()
	ds := make([]Delivery, 0, len(p.flying))
	for _, f := range p.flying {
		if !f.lost {
			ds = append(ds, f.d)
		}
	}
	p.mu.Unlock()
	if len(ds) == 0 {
		return
	}
	cfg := &p.s.cfg
	now := cfg.Now()
	lost, err := p.s.store.RenewDeliveries(p.ctx, RenewParams{Now: now, Lease: cfg.DeliveryLease, Deliveries: ds})
	if err != nil {
		if p.ctx.Err() == nil {
			cfg.Logger.WarnContext(p.ctx, "invites: renewing delivery leases failed", "err", err)
		}
		return
	}
	p.renewed.Store(time.Now().UnixNano())
	gone := make(map[uuid.UUID]bool, len(lost))
	for _, id := range lost {
		gone[id] = true
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, d := range ds {
		if f, ok := p.flying[d.ID]; ok {
			if gone[d.ID] {
				f.lost = true
			} else {
				f.until = now.Add(cfg.DeliveryLease)
			}
		}
	}
}

// leased reports whether this process still holds d's claim.
func (p *pass) leased(d Delivery) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	f := p.flying[d.ID]
	return f != nil && !f.lost && p.s.cfg.Now().Before(f.until)
}

// endFlights forgets the flights of ds: their outcomes are recorded, or left to
// the lease.
func (p *pass) endFlights(ds ...Delivery) {
	p.mu.Lock()
	for _, d := range ds {
		delete(p.flying, d.ID)
	}
	p.mu.Unlock()
	p.signal()
}

// deliver sends the email of j and queues its outcome.
func (p *pass) deliver(j job) {
	cfg := &p.s.cfg
	d := j.c.Delivery
	log := cfg.Logger.With("delivery", d.ID, "invite", d.InviteID, "attempt", d.Attempt)
	if p.ctx.Err() != nil {
		p.results <- handBack(cfg.Now(), d, "worker stopped before sending")
		return
	}
	if !p.leased(d) {
		log.WarnContext(p.ctx, "invites: lease lost before sending; the email is left to the worker holding it")
		p.endFlights(d)
		return
	}
	msg := Message{ID: d.ID.String(), Kind: d.Kind, Invite: j.c.Invite, Token: j.tok, AcceptURL: cfg.AcceptURL(j.tok)}
	actx, end := cfg.Observer.StartAttempt(p.ctx, d)
	sendCtx, cancel := context.WithTimeout(actx, cfg.SendTimeout)
	n, err := p.s.sender(sendCtx, j.c.Invite)
	if err == nil {
		msg.TenantName, msg.InviterName = n.TenantName, n.InviterName
		err = p.s.mailer.Send(sendCtx, msg)
	}
	err = scrub(err, j.tok, j.c.Invite.Email)
	cancel()

	now := cfg.Now()
	o := DeliveryOutcome{Delivery: d, Status: DeliverySent, At: now}
	switch {
	case err == nil:
		p.sent.Add(1)
	case p.ctx.Err() != nil:
		o = handBack(now, d, "worker stopped during send")
	case errors.Is(err, ErrPermanent) || d.Attempt >= cfg.MaxAttempts:
		o.Status, o.Error = DeliveryFailed, err.Error()
		log.WarnContext(p.ctx, "invites: delivery failed for good", "err", err)
	default:
		o.Status, o.Error, o.RetryAt = DeliveryQueued, err.Error(), now.Add(p.s.backoff(d.Attempt))
		log.InfoContext(p.ctx, "invites: delivery will be retried", "err", err, "retryAt", o.RetryAt)
	}
	end(AttemptResult{Status: o.Status, Err: err, Reply: replyCode(err), At: now})
	p.results <- o
}

// replyCode is the SMTP reply code err carries, or 0.
func replyCode(err error) int {
	var r interface{ ReplyCode() int }
	if errors.As(err, &r) {
		return r.ReplyCode()
	}
	return 0
}

// handBack returns the outcome that gives back the claim of a stopping
// worker at once, rather than leave the delivery to wait out its lease.
func handBack(now time.Time, d Delivery, why string) DeliveryOutcome {
	return DeliveryOutcome{Delivery: d, Status: DeliveryQueued, RetryAt: now, Error: why, At: now}
}

// record writes outcomes as they come, each group all that finished
// within recordLinger of its first, or while the last was being written.
func (p *pass) record() {
	group := make([]DeliveryOutcome, 0, recordGroup)
	linger := time.NewTimer(0)
	for o := range p.results {
		group = append(group[:0], o)
		linger.Reset(recordLinger)
	gather:
		for len(group) < recordGroup {
			select {
			case o, ok := <-p.results:
				if !ok {
					break gather
				}
				group = append(group, o)
			case <-linger.C:
				break gather
			}
		}
		p.flush(group)
	}
}

// flush stores one group of outcomes, even when the pass's ctx has ended
// (so a stopping worker leaves no claim behind). While the store fails it
// keeps them, their leases renewed by the claimer, and tries again with
// backoff for as long as their claims hold (see recordBackoff): an
// outcome given up on sends its email again after its lease. One whose
// claim another worker took over meanwhile is dropped: its email went
// twice, and the other worker's outcome is the one that counts.
func (p *pass) flush(group []DeliveryOutcome) {
	cfg := &p.s.cfg
	wait := recordBackoff
	var (
		behind  bool
		first   time.Time // the first failure
		refused int       // failures while the store renewed the leases
		final   time.Time // when a stopping worker gives up
	)
	defer func() {
		if behind {
			p.s.outbox.behind.Add(-1)
			p.signal()
		}
	}()
	for {
		if group = p.held(group); len(group) == 0 {
			return
		}
		limit := recordTimeout
		if p.ctx.Err() != nil {
			if final.IsZero() {
				final = time.Now().Add(recordFinal)
			}
			limit = min(limit, time.Until(final))
		}
		ctx, cancel := context.WithTimeout(context.WithoutCancel(p.ctx), limit)
		err := p.s.store.CompleteDeliveries(ctx, CompleteParams{Outcomes: group})
		cancel()
		if err == nil {
			p.reportEvents(group)
			p.endFlights(deliveries(group)...)
			return
		}
		if !behind {
			behind, first = true, time.Now()
			p.s.outbox.behind.Add(1)
			cfg.Logger.WarnContext(p.ctx, "invites: recording delivery outcomes failed; they are kept until the store is back",
				"err", err, "deliveries", len(group))
		}
		transient := errors.Is(err, ErrUnavailable) || errors.Is(err, context.DeadlineExceeded)
		if !transient && p.renewed.Load() > first.UnixNano() {
			refused++
		}
		if refused >= recordTries || !final.IsZero() && time.Until(final) <= wait {
			cfg.Logger.WarnContext(p.ctx, "invites: recording delivery outcomes failed; they go again after their lease",
				"err", err, "deliveries", len(group))
			p.endFlights(deliveries(group)...)
			return
		}
		time.Sleep(wait)
		wait = min(2*wait, recordBackoffMax)
	}
}

// held returns the outcomes of group whose claim this pass still holds,
// as the last renewal found; it ends the flights of the others. It writes
// a new slice, never group's: a store call abandoned past its bound (see
// bounded) may still be reading the group it was given.
func (p *pass) held(group []DeliveryOutcome) []DeliveryOutcome {
	p.mu.Lock()
	var lost []Delivery
	kept := make([]DeliveryOutcome, 0, len(group))
	for _, o := range group {
		if f := p.flying[o.Delivery.ID]; f != nil && f.lost {
			lost = append(lost, o.Delivery)
			continue
		}
		kept = append(kept, o)
	}
	p.mu.Unlock()
	if len(lost) > 0 {
		p.s.cfg.Logger.WarnContext(p.ctx, "invites: another worker took over deliveries whose outcomes waited for the store; "+
			"their emails may have gone twice", "deliveries", len(lost))
		p.endFlights(lost...)
	}
	return kept
}

func deliveries(group []DeliveryOutcome) []Delivery {
	ds := make([]Delivery, len(group))
	for i, o := range group {
		ds[i] = o.Delivery
	}
	return ds
}

// reportEvents tells the Observer, and Config.OnEvent through Run, of
// the events a group of outcomes wrote.
func (p *pass) reportEvents(group []DeliveryOutcome) {
	var sent, failed int
	for _, o := range group {
		switch o.Status {
		case DeliverySent:
			sent++
		case DeliveryFailed:
			failed++
		}
	}
	if sent > 0 {
		p.s.committed(p.ctx, EventSent, sent)
	}
	if failed > 0 {
		p.s.committed(p.ctx, EventDeliveryFailed, failed)
	}
}
