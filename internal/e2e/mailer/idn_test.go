package mailer_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/invitekit/invites"
	"github.com/invitekit/invites/internal/e2e/smtptest"
	"github.com/invitekit/invites/mailer"
	"github.com/invitekit/invites/mailer/mailertest"
)

// Internationalized addresses (RFC 6531) against servers with and without
// SMTPUTF8, pipelined and one command at a time: the recipient's domain
// goes in A-labels in RCPT TO, and in the To header unless the server
// takes UTF-8 headers (RFC 6532); a UTF-8 local part goes only with
// SMTPUTF8, announced in MAIL FROM, and otherwise fails for good before
// any MAIL FROM; an ASCII address goes as before, without the extension.
func TestSMTPInternationalizedAddresses(t *testing.T) {
	for _, c := range []struct {
		name, email string
		smtputf8    bool   // the server offers SMTPUTF8
		rcpt        string // RCPT TO as received; "" for no message
		to          string // the To header
		announced   bool   // MAIL FROM carried SMTPUTF8
	}{
		{"ASCII", "ann@example.test", false, "ann@example.test", "<ann@example.test>", false},
		{"ASCII/SMTPUTF8", "ann@example.test", true, "ann@example.test", "<ann@example.test>", false},
		{"IDN domain", "user@bücher.example", false, "user@xn--bcher-kva.example", "<user@xn--bcher-kva.example>", false},
		{"IDN domain/SMTPUTF8", "user@bücher.example", true, "user@xn--bcher-kva.example", "<user@bücher.example>", true},
		{"UTF-8 local part", "δοκιμή@παράδειγμα.δοκιμή", false, "", "", false},
		{"UTF-8 local part/SMTPUTF8", "δοκιμή@παράδειγμα.δοκιμή", true,
			"δοκιμή@xn--hxajbheg2az3al.xn--jxalpdlp", "<δοκιμή@παράδειγμα.δοκιμή>", true},
	} {
		for _, pipelined := range []bool{true, false} {
			name := c.name + map[bool]string{true: "/pipelined", false: "/one by one"}[pipelined]
			t.Run(name, func(t *testing.T) {
				srv := smtptest.New(t, smtptest.Options{SMTPUTF8: c.smtputf8, NoPipelining: !pipelined})
				m := newSMTP(t, srv)
				msg := mailertest.Sample("en", invites.KindInvitation)
				msg.Invite.Email = c.email
				err := m.Send(ctx, msg)
				if c.rcpt == "" {
					if !errors.Is(err, mailer.ErrNoSMTPUTF8) || !errors.Is(err, invites.ErrPermanent) || !strings.Contains(err.Error(), "SMTPUTF8") {
						t.Fatalf("err = %v, want ErrNoSMTPUTF8, permanent", err)
					}
					if st := srv.Stats(); st.Transactions != 0 {
						t.Fatalf("the server saw a MAIL FROM: %+v", st)
					}
					// The session was not spoiled: the next message goes over it.
					mustSend(t, m, "en", invites.KindInvitation)
					if st := srv.Stats(); st.Connections != 1 || st.Messages != 1 {
						t.Fatalf("after the refusal: %+v", st)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				got := srv.Messages()
				if len(got) != 1 || got[0].From != "no-reply@acme.test" || strings.Join(got[0].To, ",") != c.rcpt {
					t.Fatalf("%d messages, envelope %q, want RCPT TO:<%s>", len(got), envelopes(got), c.rcpt)
				}
				// SMTPUTF8 comes with BODY=8BITMIME, as the headers are then
				// 8-bit; an ASCII message is 7-bit and has neither.
				if body := map[bool]string{true: "8BITMIME"}[c.announced]; got[0].Mail.UTF8 != c.announced || string(got[0].Mail.Body) != body {
					t.Fatalf("MAIL FROM: SMTPUTF8 %v BODY %q, want %v %q", got[0].Mail.UTF8, got[0].Mail.Body, c.announced, body)
				}
				r := parse(t, got[0])
				if to := r.header.Get("To"); to != c.to {
					t.Fatalf("To: %q, want %q", to, c.to)
				}
				if !c.announced && strings.ContainsFunc(string(got[0].Data), func(r rune) bool { return r >= 0x80 }) {
					t.Fatalf("8-bit data without SMTPUTF8:\n%s", got[0].Data)
				}
				if !strings.Contains(r.text, msg.AcceptURL) {
					t.Fatalf("text part: %s", r.text)
				}
			})
		}
	}
}

// A From with a non-ASCII domain goes in A-labels: in MAIL FROM, the From
// header and every Message-ID, so no message needs SMTPUTF8 for it.
func TestSMTPFromIDN(t *testing.T) {
	srv := smtptest.New(t, smtptest.Options{SMTPUTF8: true})
	m := newSMTP(t, srv, func(c *mailer.SMTPConfig) { c.From = "Acme <invites@Bücher.example>" })
	if d := m.MessageIDDomain(); d != "xn--bcher-kva.example" {
		t.Fatalf("MessageIDDomain %q", d)
	}
	msg := mailertest.Sample("en", invites.KindInvitation)
	if err := m.Send(ctx, msg); err != nil {
		t.Fatal(err)
	}
	got := srv.Messages()
	if len(got) != 1 || got[0].From != "invites@xn--bcher-kva.example" || got[0].Mail.UTF8 {
		t.Fatalf("%d messages, envelope %q", len(got), envelopes(got))
	}
	r := parse(t, got[0])
	if from, id := r.header.Get("From"), r.header.Get("Message-Id"); from != `"Acme" <invites@xn--bcher-kva.example>` ||
		id != "<"+msg.ID+"@xn--bcher-kva.example>" {
		t.Fatalf("From %q, Message-Id %q", from, id)
	}
}

// Through the outbox on memstore: to a server without SMTPUTF8, an invite
// to a UTF-8 local part fails for good on its first attempt and is never
// tried again; to a server with it, it is sent.
func TestDeliveryUTF8LocalPart(t *testing.T) {
	for _, smtputf8 := range []bool{false, true} {
		t.Run(map[bool]string{false: "without SMTPUTF8", true: "with SMTPUTF8"}[smtputf8], func(t *testing.T) {
			w := newWorldOn(t, smtptest.Options{SMTPUTF8: smtputf8})
			inv := w.send(invites.NewInvite{Email: "δοκιμή@παράδειγμα.δοκιμή"})[0]
			w.deliver(w.svc)
			for range 3 { // past every backoff: nothing is left to retry
				w.clock.Advance(24 * time.Hour)
				w.deliver(w.svc)
			}
			got := w.get(inv.ID)
			if n := w.sends.Load(); n != 1 {
				t.Fatalf("%d attempts, want 1", n)
			}
			if smtputf8 {
				if got.DeliveryStatus != invites.DeliverySent || len(w.srv.Messages()) != 1 {
					t.Fatalf("%s %q, %+v", got.DeliveryStatus, got.DeliveryError, w.srv.Stats())
				}
				return
			}
			if got.DeliveryStatus != invites.DeliveryFailed || !strings.Contains(got.DeliveryError, "SMTPUTF8") {
				t.Fatalf("%s %q, want failed for want of SMTPUTF8", got.DeliveryStatus, got.DeliveryError)
			}
			if st := w.srv.Stats(); st.Transactions != 0 {
				t.Fatalf("the server saw a MAIL FROM: %+v", st)
			}
		})
	}
}

// envelopes writes the envelope of each message: MAIL FROM, its SMTPUTF8
// and the RCPT TOs.
func envelopes(msgs []smtptest.Message) []string {
	var out []string
	for _, m := range msgs {
		out = append(out, fmt.Sprintf("MAIL FROM:<%s> SMTPUTF8=%v RCPT TO:%q", m.From, m.Mail.UTF8, m.To))
	}
	return out
}
