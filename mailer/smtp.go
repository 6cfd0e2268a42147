package mailer

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/smtp"
	"time"

	"github.com/invitekit/invites"
)

// TLSMode is how the SMTP connection is secured.
type TLSMode int

// The TLS modes.
const (
	// TLSAuto is TLSImplicit on port 465 and TLSStartTLS on any other.
	TLSAuto TLSMode = iota
	// TLSStartTLS upgrades with STARTTLS and refuses a server that does
	// not offer it, so credentials and links never cross in plain text.
	TLSStartTLS
	// TLSImplicit speaks TLS from the first byte (SMTPS, port 465).
	TLSImplicit
	// TLSNone is plain text: only for a relay on localhost or a test server.
	TLSNone
)

// SMTPConfig sets up the SMTP mailer. Zero fields take the default their
// comment names; Addr and From are required.
type SMTPConfig struct {
	// Addr is the server's host:port. Required.
	Addr string
	// From is the sender, "Name <addr@example.com>" or a bare address;
	// its domain names every Message-ID. Its local part must be ASCII; a
	// non-ASCII domain goes in A-labels (punycode). Required.
	From string
	// Username and Password turn on AUTH PLAIN, which net/smtp sends only
	// over TLS or to localhost. Default none.
	Username, Password string
	// TLS is how the connection is secured. Default TLSAuto.
	TLS TLSMode
	// TLSConfig is used for STARTTLS and implicit TLS. Default: the system
	// roots and Addr's host as ServerName.
	TLSConfig *tls.Config
	// PoolSize is the most connections open at once; more Sends wait.
	// Default 4, invites.Config.DeliveryWorkers' default.
	PoolSize int
	// DialTimeout bounds connecting and setting the session up (greeting,
	// EHLO, STARTTLS, AUTH). Default 10 seconds.
	DialTimeout time.Duration
	// Timeout bounds a Send whose context has no deadline. The delivery
	// worker's contexts have one (invites.Config.SendTimeout). Default
	// 1 minute.
	Timeout time.Duration
	// IdleTimeout is how long an unused connection is kept for reuse;
	// servers drop idle clients after a while. Default 30 seconds.
	IdleTimeout time.Duration
	// LocalName is the host name sent with EHLO. Default "localhost".
	LocalName string
	// Renderer renders the emails. Default: NewRenderer(RenderConfig{}),
	// the embedded templates.
	Renderer *Renderer
	// Now stamps the Date header. Default time.Now.
	Now func() time.Time
	// MessageIDHeader, when set, names a header that repeats each email's
	// Message-ID, for a provider whose bounce webhook reports the email's
	// metadata instead of its Message-ID: with Postmark set it to
	// "X-PM-Metadata-message-id" (see package bouncehook). Default none.
	MessageIDHeader string
}

// SMTP is an invites.Mailer that sends by SMTP over a pool of
// connections. It is safe for concurrent use.
//
// Its errors say whether to retry: a 5xx reply to the message's MAIL,
// RCPT or DATA wraps invites.ErrPermanent (see ReplyError), as does
// ErrNoSMTPUTF8; a 4xx reply, a timeout, a refused or dropped connection
// does not, so the worker retries only what can succeed.
//
// An internationalized recipient (RFC 6531) goes with its domain in
// A-labels in RCPT TO. To a server that offers SMTPUTF8 it goes with
// SMTPUTF8 announced in MAIL FROM and the To header in UTF-8 (RFC 6532);
// to one that does not, with the To header in A-labels, or, when its
// local part is not ASCII, not at all: ErrNoSMTPUTF8.
type SMTP struct {
	c       composer
	pool    *pool
	timeout time.Duration
}

var _ invites.Mailer = (*SMTP)(nil)

// NewSMTP checks cfg and returns the mailer. It does not connect: the
// first Send does, so a host starts even while its mail server is down.
func NewSMTP(cfg SMTPConfig) (*SMTP, error) {
	host, port, err := net.SplitHostPort(cfg.Addr)
	if err != nil || host == "" || port == "" {
		return nil, fmt.Errorf("mailer: SMTPConfig.Addr %q is not host:port", cfg.Addr)
	}
	c, err := newComposer(cfg.From, cfg.Renderer, cfg.Now)
	if err != nil {
		return nil, err
	}
	if c.idHeader, err = extraHeader(cfg.MessageIDHeader); err != nil {
		return nil, err
	}
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&cfg.DialTimeout, 10*time.Second)
	def(&cfg.Timeout, time.Minute)
	def(&cfg.IdleTimeout, 30*time.Second)
	if cfg.PoolSize <= 0 {
		cfg.PoolSize = 4
	}
	if cfg.LocalName == "" {
		cfg.LocalName = "localhost"
	}
	mode := cfg.TLS
	switch {
	case mode < TLSAuto || mode > TLSNone:
		return nil, fmt.Errorf("mailer: unknown SMTPConfig.TLS %d", cfg.TLS)
	case mode == TLSAuto && port == "465":
		mode = TLSImplicit
	case mode == TLSAuto:
		mode = TLSStartTLS
	}
	tc := cfg.TLSConfig.Clone()
	if tc == nil {
		tc = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if tc.ServerName == "" {
		tc.ServerName = host
	}
	p := &pool{
		addr:        cfg.Addr,
		host:        host,
		implicitTLS: mode == TLSImplicit,
		startTLS:    mode == TLSStartTLS,
		tls:         tc,
		localName:   cfg.LocalName,
		dialTimeout: cfg.DialTimeout,
		idleTimeout: cfg.IdleTimeout,
		slots:       make(chan struct{}, cfg.PoolSize),
	}
	if cfg.Username != "" || cfg.Password != "" {
		if mode == TLSNone && host != "localhost" && !net.ParseIP(host).IsLoopback() {
			return nil, errors.New("mailer: SMTPConfig.Username with TLSNone would send the password in plain text")
		}
		p.auth = smtp.PlainAuth("", cfg.Username, cfg.Password, host)
	}
	return &SMTP{c: c, pool: p, timeout: cfg.Timeout}, nil
}

// Send renders m and sends it. The connection's deadlines are ctx's (or
// Timeout's when ctx has none), and a cancel of ctx stops the
// conversation at once.
func (m *SMTP) Send(ctx context.Context, msg invites.Message) error {
	if err := context.Cause(ctx); err != nil {
		return fmt.Errorf("mailer: not sent: %w", err)
	}
	e, err := m.c.compose(ctx, msg)
	if err != nil {
		return err
	}
	l, err := m.c.letter(e)
	if err != nil {
		return err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, m.timeout)
		defer cancel()
	}
	return m.pool.send(ctx, l)
}

// MessageIDDomain returns the domain of every Message-ID m mints, From's,
// so that invites.Service.RecordBounce takes no other
// (invites.MessageIDDomainer).
func (m *SMTP) MessageIDDomain() string { return m.c.domain }

// Close quits the idle connections; a Send after it fails with ErrClosed.
func (m *SMTP) Close() error {
	m.pool.close()
	return nil
}
