package mailer_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	netmail "net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/invitekit/invites"
	"github.com/invitekit/invites/internal/e2e/smtptest"
	"github.com/invitekit/invites/mailer"
	"github.com/invitekit/invites/mailer/mailertest"
)

// newSMTP is a plain-text SMTP mailer to srv, closed when the test ends.
func newSMTP(t *testing.T, srv *smtptest.Server, tune ...func(*mailer.SMTPConfig)) *mailer.SMTP {
	t.Helper()
	cfg := mailer.SMTPConfig{Addr: srv.Addr, From: "Acme <no-reply@acme.test>", TLS: mailer.TLSNone}
	for _, f := range tune {
		f(&cfg)
	}
	m, err := mailer.NewSMTP(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// within fails the test unless f returns in d: a mailer that hangs fails
// here rather than at the test binary's timeout.
func within(t *testing.T, d time.Duration, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("still running after %s", d)
	}
}

// mustSend sends an email to ann in locale and fails the test if it does
// not go.
func mustSend(t *testing.T, m invites.Mailer, locale string, kind invites.MessageKind) {
	t.Helper()
	if err := m.Send(ctx, mailertest.Sample(locale, kind)); err != nil {
		t.Fatal(err)
	}
}

func TestSMTPSendsMIME(t *testing.T) {
	srv := smtptest.New(t, smtptest.Options{})
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	m := newSMTP(t, srv, func(c *mailer.SMTPConfig) { c.Now = func() time.Time { return now } })
	msg := mailertest.Sample("fr", invites.KindReminder)
	if err := m.Send(ctx, msg); err != nil {
		t.Fatal(err)
	}
	got := srv.Messages()
	if len(got) != 1 || got[0].From != "no-reply@acme.test" || strings.Join(got[0].To, ",") != "ann@example.test" {
		t.Fatalf("envelope: %+v", got)
	}
	r := parse(t, got[0])
	for h, want := range map[string]string{
		"From":             `"Acme" <no-reply@acme.test>`,
		"To":               "<ann@example.test>",
		"Message-Id":       "<" + msg.ID + "@acme.test>",
		"Date":             "Wed, 02 Jan 2030 03:04:05 +0000",
		"Mime-Version":     "1.0",
		"Content-Language": "fr",
	} {
		if g := r.header.Get(h); g != want {
			t.Errorf("%s: %q, want %q", h, g, want)
		}
	}
	if !strings.HasPrefix(r.subject, "Rappel : ") || !strings.Contains(r.text, msg.AcceptURL) ||
		!strings.Contains(r.html, `href="`+msg.AcceptURL+`"`) {
		t.Fatalf("content: %q\n%s\n%s", r.subject, r.text, r.html)
	}
}

func TestSMTPStartTLSAndAuth(t *testing.T) {
	srv := smtptest.New(t, smtptest.Options{TLS: smtptest.StartTLS, Users: map[string]string{"app": "s3cret"}})
	tune := func(pass string) func(*mailer.SMTPConfig) {
		return func(c *mailer.SMTPConfig) {
			c.TLS, c.TLSConfig, c.Username, c.Password = mailer.TLSStartTLS, srv.ClientTLS(), "app", pass
		}
	}
	mustSend(t, newSMTP(t, srv, tune("s3cret")), "en", invites.KindInvitation)
	if got := srv.Messages(); len(got) != 1 || got[0].User != "app" {
		t.Fatalf("messages: %+v", got)
	}
	// A wrong password is the host's to fix, not the invite's: retried.
	err := newSMTP(t, srv, tune("wrong")).Send(ctx, mailertest.Sample("en", invites.KindInvitation))
	var reply *mailer.ReplyError
	if !errors.As(err, &reply) || reply.Command != "AUTH" || reply.Code != 535 || errors.Is(err, invites.ErrPermanent) {
		t.Fatalf("wrong password: %v", err)
	}
}

func TestSMTPImplicitTLS(t *testing.T) {
	srv := smtptest.New(t, smtptest.Options{TLS: smtptest.ImplicitTLS, Users: map[string]string{"app": "pw"}})
	m := newSMTP(t, srv, func(c *mailer.SMTPConfig) {
		c.TLS, c.TLSConfig, c.Username, c.Password = mailer.TLSImplicit, srv.ClientTLS(), "app", "pw"
	})
	mustSend(t, m, "es", invites.KindInvitation)
	if got := srv.Messages(); len(got) != 1 || got[0].User != "app" {
		t.Fatalf("messages: %+v", got)
	}
}

func TestSMTPRequiresStartTLS(t *testing.T) {
	srv := smtptest.New(t, smtptest.Options{})                                  // offers no STARTTLS
	m := newSMTP(t, srv, func(c *mailer.SMTPConfig) { c.TLS = mailer.TLSAuto }) // not port 465: STARTTLS
	err := m.Send(ctx, mailertest.Sample("en", invites.KindInvitation))
	if !errors.Is(err, mailer.ErrNoStartTLS) || errors.Is(err, invites.ErrPermanent) {
		t.Fatalf("err = %v", err)
	}
	if st := srv.Stats(); st.Transactions != 0 {
		t.Fatalf("a message started in plain text: %+v", st)
	}
}

func TestSMTPClassifiesFailures(t *testing.T) {
	for _, c := range []struct {
		name      string
		fault     smtptest.Fault
		permanent bool
		reply     string // the ReplyError's command and code, if a reply
		reused    bool   // the connection serves the next send
	}{
		{"5xx to RCPT", smtptest.Fault{RefuseRcpt: 550}, true, "RCPT 550", true},
		{"4xx to RCPT", smtptest.Fault{RefuseRcpt: 451}, false, "RCPT 451", true},
		{"5xx to DATA", smtptest.Fault{RefuseData: 554}, true, "DATA 554", true},
		{"4xx to DATA", smtptest.Fault{RefuseData: 452}, false, "DATA 452", true},
		{"dropped mid-DATA", smtptest.Fault{DropMidData: true}, false, "", false},
		{"down", smtptest.Fault{Down: true}, false, "", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := smtptest.New(t, smtptest.Options{})
			m := newSMTP(t, srv)
			srv.Set(c.fault)
			err := m.Send(ctx, mailertest.Sample("en", invites.KindInvitation))
			if err == nil || errors.Is(err, invites.ErrPermanent) != c.permanent {
				t.Fatalf("err = %v, permanent want %v", err, c.permanent)
			}
			var reply *mailer.ReplyError
			if errors.As(err, &reply) != (c.reply != "") || c.reply != "" && c.reply != fmt.Sprintf("%s %d", reply.Command, reply.Code) {
				t.Fatalf("err = %#v, want reply %q", err, c.reply)
			}
			if strings.Contains(err.Error(), "tok") {
				t.Fatalf("the error carries the token: %v", err)
			}
			// Healed, the next send works: no broken connection was kept.
			srv.Set(smtptest.Fault{})
			before := srv.Stats().Connections
			if err := m.Send(ctx, mailertest.Sample("en", invites.KindInvitation)); err != nil {
				t.Fatalf("after healing: %v", err)
			}
			if reused := srv.Stats().Connections == before; reused != c.reused || len(srv.Messages()) != 1 {
				t.Fatalf("reused = %v, want %v; %+v", reused, c.reused, srv.Stats())
			}
		})
	}
}

func TestSMTPStalledServerTimesOut(t *testing.T) {
	srv := smtptest.New(t, smtptest.Options{})
	m := newSMTP(t, srv)
	srv.Set(smtptest.Fault{Stall: true})
	sctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	var err error
	within(t, 5*time.Second, func() { err = m.Send(sctx, mailertest.Sample("en", invites.KindInvitation)) })
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, invites.ErrPermanent) {
		t.Fatalf("err = %v", err)
	}
	if srv.Stats().Stalls != 1 {
		t.Fatalf("the server did not stall: %+v", srv.Stats())
	}
	srv.Set(smtptest.Fault{})
	if err := m.Send(ctx, mailertest.Sample("en", invites.KindInvitation)); err != nil {
		t.Fatalf("after the stall: %v", err)
	}
}

func TestSMTPCancelStopsSend(t *testing.T) {
	srv := smtptest.New(t, smtptest.Options{})
	m := newSMTP(t, srv) // no deadline: Timeout's minute
	srv.Set(smtptest.Fault{Stall: true})
	sctx, cancel := context.WithCancel(ctx)
	go func() {
		if srv.Await(ctx, func(s smtptest.Stats) bool { return s.Stalls == 1 }) == nil {
			cancel()
		}
	}()
	var err error
	within(t, 5*time.Second, func() { err = m.Send(sctx, mailertest.Sample("en", invites.KindInvitation)) })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

func TestSMTPConnectTimeout(t *testing.T) {
	// A listener nobody accepts on: the kernel completes the handshake,
	// no greeting ever comes.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	m, err := mailer.NewSMTP(mailer.SMTPConfig{Addr: ln.Addr().String(), From: "a@acme.test", TLS: mailer.TLSNone, DialTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	within(t, 5*time.Second, func() { err = m.Send(ctx, mailertest.Sample("en", invites.KindInvitation)) })
	if err == nil || errors.Is(err, invites.ErrPermanent) || !strings.Contains(err.Error(), "greeting") {
		t.Fatalf("err = %v", err)
	}
}

func TestSMTPConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	m, err := mailer.NewSMTP(mailer.SMTPConfig{Addr: addr, From: "a@acme.test", TLS: mailer.TLSNone})
	if err != nil {
		t.Fatal(err)
	}
	err = m.Send(ctx, mailertest.Sample("en", invites.KindInvitation))
	if err == nil || errors.Is(err, invites.ErrPermanent) || !strings.Contains(err.Error(), "connect") {
		t.Fatalf("err = %v", err)
	}
}

func TestSMTPPoolsConnections(t *testing.T) {
	srv := smtptest.New(t, smtptest.Options{})
	m := newSMTP(t, srv, func(c *mailer.SMTPConfig) { c.PoolSize = 3 })
	for range 5 {
		mustSend(t, m, "en", invites.KindInvitation)
	}
	if st := srv.Stats(); st.Connections != 1 {
		t.Fatalf("sequential sends: %+v", st)
	}
	var wg sync.WaitGroup
	for range 30 {
		wg.Go(func() {
			if err := m.Send(ctx, mailertest.Sample("en", invites.KindInvitation)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if st := srv.Stats(); st.Connections > 3 || st.Messages != 35 {
		t.Fatalf("concurrent sends: %+v", st)
	}
}

func TestSMTPReplacesDroppedIdleConnection(t *testing.T) {
	srv := smtptest.New(t, smtptest.Options{})
	m := newSMTP(t, srv)
	mustSend(t, m, "en", invites.KindInvitation)
	// The server restarts: it drops the pooled connection.
	srv.Set(smtptest.Fault{Down: true})
	srv.Set(smtptest.Fault{})
	if err := m.Send(ctx, mailertest.Sample("en", invites.KindInvitation)); err != nil {
		t.Fatalf("send after the server dropped the idle connection: %v", err)
	}
	if st := srv.Stats(); st.Connections != 2 || st.Messages != 2 {
		t.Fatalf("%+v", st)
	}
}

func TestSMTPClose(t *testing.T) {
	srv := smtptest.New(t, smtptest.Options{})
	m := newSMTP(t, srv)
	mustSend(t, m, "en", invites.KindInvitation)
	m.Close()
	if err := m.Send(ctx, mailertest.Sample("en", invites.KindInvitation)); !errors.Is(err, mailer.ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
}

func TestNewSMTPChecksConfig(t *testing.T) {
	for name, cfg := range map[string]mailer.SMTPConfig{
		"no addr":      {From: "a@acme.test"},
		"no port":      {Addr: "mail.acme.test", From: "a@acme.test"},
		"no from":      {Addr: "mail.acme.test:25"},
		"from no at":   {Addr: "mail.acme.test:25", From: "acme"},
		"from no host": {Addr: "mail.acme.test:25", From: "a@"},
		"from with LF": {Addr: "mail.acme.test:25", From: "a@acme.test\nBcc: b@evil.test"},
		"two from":     {Addr: "mail.acme.test:25", From: "a@acme.test, b@acme.test"},
		"UTF-8 from":   {Addr: "mail.acme.test:25", From: "δ@acme.test"},
		"bad IDN from": {Addr: "mail.acme.test:25", From: "a@bü_cher.test"},
		"plain auth":   {Addr: "mail.acme.test:25", From: "a@acme.test", TLS: mailer.TLSNone, Username: "u", Password: "p"},
		"unknown TLS":  {Addr: "mail.acme.test:25", From: "a@acme.test", TLS: 9},
	} {
		if _, err := mailer.NewSMTP(cfg); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestSMTPRefusesBadMessages(t *testing.T) {
	srv := smtptest.New(t, smtptest.Options{})
	m := newSMTP(t, srv)
	bad := mailertest.Sample("en", invites.KindInvitation)
	bad.ID = "id>\r\nBcc: x"
	if err := m.Send(ctx, bad); !errors.Is(err, invites.ErrPermanent) {
		t.Fatalf("bad id: %v", err)
	}
	bad = mailertest.Sample("en", invites.KindInvitation)
	bad.Invite.Email = "Ann <ann@example.test>"
	if err := m.Send(ctx, bad); !errors.Is(err, invites.ErrPermanent) {
		t.Fatalf("bad recipient: %v", err)
	}
	if st := srv.Stats(); st.Transactions != 0 {
		t.Fatalf("a bad message reached the server: %+v", st)
	}
}

// MessageIDHeader repeats the Message-ID in the header it names, as
// Postmark's metadata, and a name that could break or replace a header is
// refused before anything is sent.
func TestSMTPMessageIDHeader(t *testing.T) {
	srv := smtptest.New(t, smtptest.Options{})
	m := newSMTP(t, srv, func(c *mailer.SMTPConfig) { c.MessageIDHeader = "X-PM-Metadata-message-id" })
	if err := m.Send(ctx, mailertest.Sample("en", invites.KindInvitation)); err != nil {
		t.Fatal(err)
	}
	got, err := netmail.ReadMessage(bytes.NewReader(srv.Messages()[0].Data))
	if err != nil {
		t.Fatal(err)
	}
	id := got.Header.Get("Message-Id")
	if id == "" || got.Header.Get("X-PM-Metadata-message-id") != id {
		t.Fatalf("Message-Id %q, X-PM-Metadata-message-id %q", id, got.Header.Get("X-PM-Metadata-message-id"))
	}
	for _, bad := range []string{"X-A\r\nBcc", "X A", "X:A", "Message-ID", "from", "X-é"} {
		if _, err := mailer.NewSMTP(mailer.SMTPConfig{Addr: srv.Addr, From: "a@acme.test", MessageIDHeader: bad}); err == nil {
			t.Errorf("MessageIDHeader %q was taken", bad)
		}
	}
}
