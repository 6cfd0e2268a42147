package smtptest_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net/smtp"
	"net/textproto"
	"testing"
	"time"

	"github.com/invitekit/invites/internal/e2e/smtptest"
)

// send sends one message with net/smtp's client over c.
func send(c *smtp.Client) error {
	if err := c.Mail("a@x.test"); err != nil {
		return err
	}
	if err := c.Rcpt("b@y.test"); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write([]byte("Subject: hi\r\n\r\n" + string(make([]byte, 200)) + "\r\n")); err != nil {
		return err
	}
	return w.Close()
}

func dial(t *testing.T, s *smtptest.Server) *smtp.Client {
	t.Helper()
	c, err := smtp.Dial(s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func code(err error) int {
	var tp *textproto.Error
	if errors.As(err, &tp) {
		return tp.Code
	}
	return 0
}

func TestFaults(t *testing.T) {
	s := smtptest.New(t, smtptest.Options{})
	c := dial(t, s)
	if err := send(c); err != nil {
		t.Fatal(err)
	}
	if m := s.Messages(); len(m) != 1 || m[0].From != "a@x.test" || m[0].To[0] != "b@y.test" {
		t.Fatalf("%+v", m)
	}

	s.Set(smtptest.Fault{RefuseRcpt: 550})
	if err := send(c); code(err) != 550 {
		t.Fatalf("RefuseRcpt: %v", err)
	}
	c.Reset()
	s.Set(smtptest.Fault{RefuseData: 451})
	if err := send(c); code(err) != 451 {
		t.Fatalf("RefuseData: %v", err)
	}

	// A stall holds the reply until the fault changes.
	s.Set(smtptest.Fault{Stall: true})
	done := make(chan error, 1)
	go func() { done <- send(c) }()
	actx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Await(actx, func(st smtptest.Stats) bool { return st.Stalls == 1 }); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		t.Fatalf("stalled send returned: %v", err)
	default:
	}
	s.Set(smtptest.Fault{})
	if err := <-done; code(err) != 451 {
		t.Fatalf("released stall: %v", err)
	}

	s.Set(smtptest.Fault{DropMidData: true})
	if err := send(c); err == nil || code(err) != 0 {
		t.Fatalf("dropped mid-DATA: %v", err)
	}

	s.Set(smtptest.Fault{Down: true})
	if _, err := smtp.Dial(s.Addr); err == nil {
		t.Fatal("dialed a server that is down")
	}
	s.Set(smtptest.Fault{})
	if err := send(dial(t, s)); err != nil {
		t.Fatal(err)
	}
	if st, n := s.Stats(), len(s.Messages()); st.Messages != 2 || n != 2 || st.Drops != 1 || st.Transactions != 6 {
		t.Fatalf("%+v, %d messages", st, n)
	}
	s.Reset()
	if st := s.Stats(); st != (smtptest.Stats{}) || len(s.Messages()) != 0 {
		t.Fatalf("after Reset: %+v", st)
	}
}

func TestDownDropsOpenConnections(t *testing.T) {
	s := smtptest.New(t, smtptest.Options{})
	c := dial(t, s)
	if err := c.Noop(); err != nil {
		t.Fatal(err)
	}
	s.Set(smtptest.Fault{Down: true})
	if err := c.Noop(); err == nil {
		t.Fatal("an open connection survived Down")
	}
}

func TestTLSAndAuth(t *testing.T) {
	users := map[string]string{"u": "p"}
	st := smtptest.New(t, smtptest.Options{TLS: smtptest.StartTLS, Users: users})
	c := dial(t, st)
	if err := send(c); code(err) != 502 { // must authenticate first
		t.Fatalf("unauthenticated: %v", err)
	}
	if err := c.StartTLS(st.ClientTLS()); err != nil {
		t.Fatal(err)
	}
	if err := c.Auth(smtp.PlainAuth("", "u", "p", "127.0.0.1")); err != nil {
		t.Fatal(err)
	}
	if err := send(c); err != nil {
		t.Fatal(err)
	}
	if m := st.Messages(); len(m) != 1 || m[0].User != "u" {
		t.Fatalf("%+v", m)
	}

	it := smtptest.New(t, smtptest.Options{TLS: smtptest.ImplicitTLS})
	conn, err := tls.Dial("tcp", it.Addr, it.ClientTLS())
	if err != nil {
		t.Fatal(err)
	}
	c, err = smtp.NewClient(conn, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := send(c); err != nil {
		t.Fatal(err)
	}
	if smtptest.New(t, smtptest.Options{}).ClientTLS() != nil {
		t.Fatal("a plain server has a client TLS config")
	}
}

// A server with SMTPUTF8 offers it and records MAIL FROM's parameters and
// the recipients as received; one without it refuses a MAIL FROM that
// announces it.
func TestSMTPUTF8(t *testing.T) {
	for _, offered := range []bool{true, false} {
		s := smtptest.New(t, smtptest.Options{SMTPUTF8: offered})
		c := dial(t, s)
		if err := c.Hello("localhost"); err != nil {
			t.Fatal(err)
		}
		if ok, _ := c.Extension("SMTPUTF8"); ok != offered {
			t.Fatalf("offered %v: EHLO says %v", offered, ok)
		}
		if !offered {
			id, err := c.Text.Cmd("MAIL FROM:<a@x.test> SMTPUTF8")
			if err != nil {
				t.Fatal(err)
			}
			c.Text.StartResponse(id)
			_, _, err = c.Text.ReadResponse(250)
			c.Text.EndResponse(id)
			if code(err) != 504 || s.Stats().Transactions != 0 {
				t.Fatalf("SMTPUTF8 announced to a server without it: %v, %+v", err, s.Stats())
			}
			continue
		}
		// net/smtp announces SMTPUTF8 and BODY=8BITMIME whenever offered.
		if err := c.Mail("a@x.test"); err != nil {
			t.Fatal(err)
		}
		if err := c.Rcpt("δοκιμή@παράδειγμα.δοκιμή"); err != nil {
			t.Fatal(err)
		}
		w, err := c.Data()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte("Subject: hi\r\n\r\nhi\r\n")); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		m := s.Messages()
		if len(m) != 1 || !m[0].Mail.UTF8 || m[0].Mail.Body != "8BITMIME" || m[0].To[0] != "δοκιμή@παράδειγμα.δοκιμή" {
			t.Fatalf("%+v", m)
		}
	}
}
