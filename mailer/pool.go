package mailer

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/smtp"
	"net/textproto"
	"sync"
	"time"
)

// pool keeps up to a bound of SMTP sessions open and lends one to each
// send, with the session's deadlines taken from the send's context.
//
// It stands in for jordan-wright/email's Pool, which cannot do that: the
// Pool dials with smtp.Dial (no connect timeout, no implicit TLS, no way
// to hand it a dialer), never sets a deadline on its connections, so one
// stalled server holds a send and its slot for ever, and reads its
// counters without a lock, which go test -race reports. This pool keeps
// the Pool's design (sessions made lazily up to the bound; a session
// reused after a refusal once RSET succeeds, closed after anything else)
// and adds what it lacks; the MIME message still comes from
// jordan-wright/email.
type pool struct {
	addr, host  string
	implicitTLS bool
	startTLS    bool
	tls         *tls.Config
	auth        smtp.Auth
	localName   string
	noPipeline  bool // tests: the exchange of servers without PIPELINING
	dialTimeout time.Duration
	idleTimeout time.Duration

	slots  chan struct{} // one per session lent out
	mu     sync.Mutex
	idle   []*session // the most recently used last
	closed bool
}

// session is one SMTP connection.
type session struct {
	nc    net.Conn
	c     *smtp.Client
	since time.Time // back in the pool since
	// spent marks a session that broke or whose deadline ctx forced: it
	// is closed, never reused, so a broken connection cannot poison the pool.
	spent bool
	// pipelining: the server takes MAIL, RCPT and DATA in one flight.
	pipelining bool
	// smtputf8: the server takes UTF-8 addresses and headers (RFC 6531).
	smtputf8 bool
}

// send sends l over a pooled session.
func (p *pool) send(ctx context.Context, l letter) error {
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("mailer: waiting for a connection: %w", context.Cause(ctx))
	}
	defer func() { <-p.slots }()
	if err := context.Cause(ctx); err != nil { // both were ready; select chose the slot
		return fmt.Errorf("mailer: waiting for a connection: %w", err)
	}
	for first := true; ; first = false {
		s, reused, err := p.get(ctx)
		if err != nil {
			return err
		}
		msg, smtputf8, err := l.pick(s.smtputf8)
		if err != nil { // before MAIL: the session stays good
			p.put(s)
			return err
		}
		step, err := s.transact(ctx, l.from, l.rcpt, smtputf8, msg)
		p.put(s)
		var reply *textproto.Error
		if err != nil && reused && first && step == stepMail && !errors.As(err, &reply) && ctx.Err() == nil {
			continue // the server had dropped the idle session; the message never began
		}
		return classify(ctx, step, err)
	}
}

// get returns an idle session, and true, or dials a new one.
func (p *pool) get(ctx context.Context) (*session, bool, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, false, ErrClosed
	}
	var s *session
	var stale []*session
	for s == nil && len(p.idle) > 0 {
		last := p.idle[len(p.idle)-1]
		p.idle = p.idle[:len(p.idle)-1]
		if time.Since(last.since) < p.idleTimeout {
			s = last
		} else {
			stale = append(stale, last)
		}
	}
	p.mu.Unlock()
	for _, st := range stale {
		st.close()
	}
	if s != nil {
		return s, true, nil
	}
	s, err := p.dial(ctx)
	return s, false, err
}

// put takes a session back, or closes it when it is spent.
func (p *pool) put(s *session) {
	p.mu.Lock()
	if !s.spent && !p.closed {
		s.since = time.Now()
		p.idle = append(p.idle, s)
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	s.close()
}

// close ends the idle sessions with QUIT; those lent out close when they
// come back.
func (p *pool) close() {
	p.mu.Lock()
	p.closed = true
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, s := range idle {
		s.nc.SetDeadline(time.Now().Add(time.Second))
		s.c.Quit()
		s.close()
	}
}

// dial connects and sets the session up (greeting, EHLO, STARTTLS, AUTH)
// within dialTimeout and ctx.
func (p *pool) dial(ctx context.Context) (*session, error) {
	ctx, cancel := context.WithTimeout(ctx, p.dialTimeout)
	defer cancel()
	var nc net.Conn
	var err error
	d := &net.Dialer{}
	if p.implicitTLS {
		nc, err = (&tls.Dialer{NetDialer: d, Config: p.tls}).DialContext(ctx, "tcp", p.addr)
	} else {
		nc, err = d.DialContext(ctx, "tcp", p.addr)
	}
	if err != nil {
		return nil, classify(ctx, stepConnect, err)
	}
	s := &session{nc: nc}
	step, err := s.guard(ctx, func() (string, error) { return p.setup(s) })
	if err != nil {
		s.close()
		return nil, classify(ctx, step, err)
	}
	if s.spent { // set up, but ctx ended as it finished
		s.close()
		return nil, classify(ctx, step, context.Cause(ctx))
	}
	return s, nil
}

func (p *pool) setup(s *session) (string, error) {
	c, err := smtp.NewClient(s.nc, p.host)
	if err != nil {
		return stepGreeting, err
	}
	s.c = c
	if err := c.Hello(p.localName); err != nil {
		return stepHello, err
	}
	if p.startTLS {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return stepStartTLS, ErrNoStartTLS
		}
		if err := c.StartTLS(p.tls); err != nil {
			return stepStartTLS, err
		}
	}
	if p.auth != nil {
		if ok, _ := c.Extension("AUTH"); !ok {
			return stepAuth, ErrNoAuth
		}
		if err := c.Auth(p.auth); err != nil {
			return stepAuth, err
		}
	}
	s.pipelining, _ = c.Extension("PIPELINING")
	s.pipelining = s.pipelining && !p.noPipeline
	s.smtputf8, _ = c.Extension("SMTPUTF8")
	return "", nil
}

// transact sends one message, announcing SMTPUTF8 if smtputf8. After a
// refusal it resets the session for the next message; after anything
// else the session is spent.
func (s *session) transact(ctx context.Context, from, to string, smtputf8 bool, msg []byte) (string, error) {
	return s.guard(ctx, func() (string, error) {
		step, err := s.mail(from, to, smtputf8, msg)
		if err != nil && !s.spent {
			// 421: the server is closing the session.
			var reply *textproto.Error
			s.spent = !errors.As(err, &reply) || reply.Code == 421 || s.c.Reset() != nil
		}
		return step, err
	})
}

// guard runs f with the connection's deadline at ctx's and cuts its I/O
// short the moment ctx ends, as a cancel has no deadline to set before.
// A session ctx cut into is spent: its conversation stopped midway.
func (s *session) guard(ctx context.Context, f func() (string, error)) (string, error) {
	deadline, _ := ctx.Deadline()
	s.nc.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { s.nc.SetDeadline(time.Unix(1, 0)) })
	step, err := f()
	if !stop() {
		s.spent = true
	}
	return step, err
}

func (s *session) close() {
	if s.c != nil {
		s.c.Close()
		return
	}
	s.nc.Close()
}
