package mailer_test

import (
	"bytes"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"regexp"
	"testing"

	"github.com/invitekit/invites/internal/e2e/smtptest"
)

// received is a message as a mail client reads it.
type received struct {
	header  mail.Header
	subject string
	text    string
	html    string
}

// parse reads m as MIME: the headers and the decoded parts of its
// multipart/alternative body.
func parse(t *testing.T, m smtptest.Message) received {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
	if err != nil {
		t.Fatal(err)
	}
	r := received{header: msg.Header}
	if r.subject, err = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject")); err != nil {
		t.Fatal(err)
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type %q: %v", msg.Header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart() // decodes quoted-printable
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(p)
		if err != nil {
			t.Fatal(err)
		}
		switch ct := p.Header.Get("Content-Type"); ct {
		case "text/plain; charset=UTF-8":
			r.text = string(body)
		case "text/html; charset=UTF-8":
			r.html = string(body)
		default:
			t.Fatalf("unexpected part %q", ct)
		}
	}
	if r.text == "" || r.html == "" {
		t.Fatalf("parts missing: text %d bytes, html %d bytes", len(r.text), len(r.html))
	}
	return r
}

var tokenInLink = regexp.MustCompile(`https://app\.test/accept\?token=([A-Za-z0-9_-]+)`)

// token is the token of the link in the text part, as a user clicks it.
func (r received) token(t *testing.T) string {
	t.Helper()
	m := tokenInLink.FindStringSubmatch(r.text)
	if m == nil {
		t.Fatalf("no link in:\n%s", r.text)
	}
	return m[1]
}
