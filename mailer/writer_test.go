package mailer_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/invitekit/invites"
	"github.com/invitekit/invites/mailer"
	"github.com/invitekit/invites/mailer/mailertest"
	"github.com/invitekit/invites/store/memstore"
	"github.com/invitekit/invites/token"
)

func TestWriterPrintsEmail(t *testing.T) {
	var out bytes.Buffer
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	w, err := mailer.NewWriter(&out, mailer.WriterConfig{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	m := mailertest.Sample("de-AT", invites.KindInvitation)
	if err := w.Send(ctx, m); err != nil {
		t.Fatal(err)
	}
	want := "----- email <" + m.ID + "@localhost> -----\n" +
		"From: <invites@localhost>\n" +
		"To: ann@example.test\n" +
		"Subject: Einladung ins Team\n" +
		"Date: Wed, 02 Jan 2030 03:04:05 +0000\n" +
		"Message-ID: <" + m.ID + "@localhost>\n" +
		"Content-Language: de\n\n" +
		"Hallo Ann Lee,\n"
	if got := out.String(); !strings.HasPrefix(got, want) ||
		!strings.HasSuffix(got, "\n----- end <"+m.ID+"@localhost> -----\n") ||
		strings.Count(got, m.AcceptURL) != 1 || strings.Contains(got, "Link: ") || strings.Contains(got, "<p>") {
		t.Fatalf("printed, want the link once, in the text:\n%s", got)
	}

	// A host's text part without the link: the Writer prints it below.
	out.Reset()
	r, err := mailer.NewRenderer(mailer.RenderConfig{Templates: fstest.MapFS{
		"en/invitation.txt.tmpl": {Data: []byte("Hello {{.Name}}")},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if w, err = mailer.NewWriter(&out, mailer.WriterConfig{Renderer: r}); err != nil {
		t.Fatal(err)
	}
	if err := w.Send(ctx, mailertest.Sample("en", invites.KindInvitation)); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); !strings.Contains(got, "Hello Ann Lee\n\nLink: "+m.AcceptURL+"\n----- end") || strings.Count(got, m.AcceptURL) != 1 {
		t.Fatalf("printed, want the link once, below the text:\n%s", got)
	}

	out.Reset()
	w, err = mailer.NewWriter(&out, mailer.WriterConfig{From: "Acme <a@acme.test>", HTML: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Send(ctx, m); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); !strings.Contains(got, "From: \"Acme\" <a@acme.test>\n") || !strings.Contains(got, "----- html -----\n<!DOCTYPE html>") {
		t.Fatalf("printed:\n%s", got)
	}
}

// The Writer prints an address as people read it, and what the SMTP
// mailer makes of one that is not ASCII; a From's domain in A-labels, as
// every message carries it.
func TestWriterPrintsInternationalizedAddresses(t *testing.T) {
	var out bytes.Buffer
	w, err := mailer.NewWriter(&out, mailer.WriterConfig{From: "Acme <invites@Bücher.example>"})
	if err != nil {
		t.Fatal(err)
	}
	if d := w.MessageIDDomain(); d != "xn--bcher-kva.example" {
		t.Fatalf("MessageIDDomain %q", d)
	}
	for _, c := range []struct{ email, to string }{
		{"ann@example.test", "ann@example.test"},
		{"user@bücher.example", "user@bücher.example (user@xn--bcher-kva.example without SMTPUTF8)"},
		{"δοκιμή@παράδειγμα.δοκιμή", "δοκιμή@παράδειγμα.δοκιμή (only to a server with SMTPUTF8)"},
	} {
		out.Reset()
		m := mailertest.Sample("en", invites.KindInvitation)
		m.Invite.Email = c.email
		if err := w.Send(ctx, m); err != nil {
			t.Fatalf("%s: %v", c.email, err)
		}
		want := "From: \"Acme\" <invites@xn--bcher-kva.example>\nTo: " + c.to + "\n"
		if got := out.String(); !strings.Contains(got, want) || !strings.Contains(got, "Message-ID: <"+m.ID+"@xn--bcher-kva.example>\n") {
			t.Errorf("%s printed:\n%s", c.email, got)
		}
	}
}

func TestWriterConcurrentEmailsDoNotInterleave(t *testing.T) {
	var out bytes.Buffer
	w, err := mailer.NewWriter(&out, mailer.WriterConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if err := w.Send(ctx, mailertest.Sample("fr", invites.KindReminder)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	emails := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n----- email ")
	if len(emails) != 20 {
		t.Fatalf("%d emails", len(emails))
	}
	for _, e := range emails {
		if strings.Count(e, "Subject: ") != 1 || strings.Count(e, "----- end ") != 1 {
			t.Fatalf("interleaved:\n%s", e)
		}
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriterErrors(t *testing.T) {
	if _, err := mailer.NewWriter(&bytes.Buffer{}, mailer.WriterConfig{From: "not an address"}); err == nil {
		t.Fatal("a bad From was taken")
	}
	w, err := mailer.NewWriter(failingWriter{}, mailer.WriterConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Send(ctx, mailertest.Sample("en", invites.KindInvitation)); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("write error: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := w.Send(cctx, mailertest.Sample("en", invites.KindInvitation)); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled: %v", err)
	}
}

// A Service on a mailer of this package takes bounces only for the
// Message-IDs it minted: of From's domain.
func TestBounceTakesOnlyTheMailersDomain(t *testing.T) {
	var out bytes.Buffer
	w, err := mailer.NewWriter(&out, mailer.WriterConfig{From: "Acme <invites@Mail.Acme.test>"})
	if err != nil {
		t.Fatal(err)
	}
	if got := w.MessageIDDomain(); got != "mail.acme.test" {
		t.Fatalf("MessageIDDomain = %q", got)
	}
	svc, err := invites.New(memstore.New(), w, invites.Config{
		Tokens:    token.Issuer{},
		AcceptURL: func(t invites.Token) string { return "https://app.test/accept?token=" + t.Reveal() },
	})
	if err != nil {
		t.Fatal(err)
	}
	actor := invites.Actor{UserID: "u", TenantID: "acme", Roles: []string{"member"}}
	if _, err := svc.Send(ctx, actor, []invites.NewInvite{{Email: "ann@example.test"}}); err != nil {
		t.Fatal(err)
	}
	if n, err := svc.DeliverPending(ctx); err != nil || n != 1 {
		t.Fatalf("DeliverPending = %d, %v", n, err)
	}
	_, rest, _ := strings.Cut(out.String(), "Message-ID: ")
	msgID, _, _ := strings.Cut(rest, "\n")
	id, _, _ := strings.Cut(strings.Trim(msgID, "<>"), "@")
	for _, bad := range []string{"<" + id + "@evil.example>", id} {
		if err := svc.RecordBounce(ctx, bad, true, "550"); !errors.Is(err, invites.ErrInvalidInput) {
			t.Errorf("RecordBounce(%q): %v, want ErrInvalidInput", bad, err)
		}
	}
	if err := svc.RecordBounce(ctx, msgID, true, "550"); err != nil {
		t.Fatalf("RecordBounce(%q): %v", msgID, err)
	}
}
