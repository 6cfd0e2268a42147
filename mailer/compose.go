package mailer

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"net/textproto"
	"strings"
	"time"

	"github.com/invitekit/invites"
	"github.com/invitekit/invites/internal/idn"
	"github.com/jordan-wright/email"
)

// composer turns an invites.Message into an email: what the SMTP and the
// writer Mailer share.
type composer struct {
	from     string // the From header
	fromAddr string // the bare address, for MAIL FROM
	domain   string // names every Message-ID
	idHeader string // repeats the Message-ID, for providers' webhooks; "" none
	render   *Renderer
	now      func() time.Time
}

func newComposer(from string, r *Renderer, now func() time.Time) (composer, error) {
	if strings.ContainsAny(from, "\r\n") {
		return composer{}, errors.New("mailer: From holds a line break")
	}
	addr, err := mail.ParseAddress(from)
	if err != nil {
		return composer{}, fmt.Errorf("mailer: From %q: %w", from, err)
	}
	at := strings.LastIndexByte(addr.Address, '@')
	if at < 1 || at == len(addr.Address)-1 {
		return composer{}, fmt.Errorf("mailer: From %q has no domain", from)
	}
	if !ascii(addr.Address[:at]) {
		// It goes in every MAIL FROM, which a server without SMTPUTF8
		// cannot take.
		return composer{}, fmt.Errorf("mailer: From %q: write the local part in ASCII", from)
	}
	// The domain goes in A-labels, as it names every Message-ID, which
	// must be ASCII, and so no message needs SMTPUTF8 for its sender.
	if addr.Address, err = aLabels(addr.Address); err != nil {
		return composer{}, fmt.Errorf("mailer: From %q: the domain is not a valid IDNA2008 name", from)
	}
	if r == nil {
		if r, err = NewRenderer(RenderConfig{}); err != nil {
			return composer{}, err
		}
	}
	if now == nil {
		now = time.Now
	}
	return composer{
		from:     addr.String(),
		fromAddr: addr.Address,
		domain:   strings.ToLower(addr.Address[at+1:]),
		render:   r,
		now:      now,
	}, nil
}

// composed is one email ready to send or print.
type composed struct {
	to string // the recipient as stored, its domain in U-labels
	// toASCII is to with its domain in A-labels (punycode), as RCPT TO
	// and, without SMTPUTF8, the To header carry it. Its local part is
	// to's: when that is not ASCII, only SMTPUTF8 can carry the address.
	toASCII   string
	messageID string
	date      time.Time
	Rendered
}

// compose renders m and checks what goes into its headers.
func (c composer) compose(ctx context.Context, m invites.Message) (composed, error) {
	id, err := c.messageID(m)
	if err != nil {
		return composed{}, err
	}
	to := m.Invite.Email
	if a, err := mail.ParseAddress(to); err != nil || a.Address != to || a.Name != "" {
		return composed{}, fmt.Errorf("mailer: recipient of invite %s is not a bare address: %w", m.Invite.ID, invites.ErrPermanent)
	}
	toASCII, err := aLabels(to)
	if err != nil {
		return composed{}, fmt.Errorf("mailer: recipient of invite %s has a domain that is not a valid IDNA2008 name: %w", m.Invite.ID, invites.ErrPermanent)
	}
	r, err := c.render.Render(ctx, m)
	if err != nil {
		return composed{}, err
	}
	return composed{to: to, toASCII: toASCII, messageID: id, date: c.now(), Rendered: r}, nil
}

// aLabels returns addr with its domain in A-labels, by the profile the
// invites package stores domains by; an ASCII domain stays as it is, so
// an address stored before IDNA checks goes as it always went.
func aLabels(addr string) (string, error) {
	at := strings.LastIndexByte(addr, '@')
	if ascii(addr[at+1:]) {
		return addr, nil
	}
	d, err := idn.Profile.ToASCII(addr[at+1:])
	if err != nil {
		return "", err
	}
	return addr[:at+1] + d, nil
}

// messageID returns <delivery-id@from-domain>: every attempt of one delivery
// carries the same one, so a receiver can drop an at-least-once duplicate.
func (c composer) messageID(m invites.Message) (string, error) {
	if m.ID == "" || strings.ContainsFunc(m.ID, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_')
	}) {
		return "", fmt.Errorf("mailer: message id %q cannot name a Message-ID: %w", m.ID, invites.ErrPermanent)
	}
	return "<" + m.ID + "@" + c.domain + ">", nil
}

// letter returns e as the SMTP mailer sends it: the message in ASCII
// headers when the recipient's local part is ASCII, and in UTF-8 headers
// (RFC 6532) when any of its address is not.
func (c composer) letter(e composed) (letter, error) {
	l := letter{from: c.fromAddr, rcpt: e.toASCII}
	var err error
	if ascii(e.toASCII) {
		l.ascii, err = c.bytes(e, e.toASCII)
	}
	if err == nil && !ascii(e.to) {
		l.utf8, err = c.bytes(e, e.to)
	}
	return l, err
}

// bytes returns the MIME message to the address to: multipart/alternative
// with the text and the HTML part, quoted-printable, built by
// jordan-wright/email.
func (c composer) bytes(e composed, to string) ([]byte, error) {
	m := email.NewEmail()
	m.From = c.from
	m.To = []string{to}
	m.Subject = e.Subject
	m.Text = []byte(e.Text)
	m.HTML = []byte(e.HTML)
	m.Headers.Set("Message-Id", e.messageID)
	if c.idHeader != "" {
		m.Headers.Set(c.idHeader, e.messageID)
	}
	m.Headers.Set("Date", e.date.Format(time.RFC1123Z))
	m.Headers.Set("Content-Language", e.Locale)
	b, err := m.Bytes()
	if err != nil {
		return nil, fmt.Errorf("mailer: building the message: %w", err)
	}
	return b, nil
}

// extraHeader checks the name of a header the mailer adds: a field name
// of RFC 5322 (printable ASCII but the colon) that is none of those the
// mailer writes itself, so it can neither break the header block nor
// replace one of ours.
func extraHeader(name string) (string, error) {
	if name == "" {
		return "", nil
	}
	for _, r := range name {
		if r < '!' || r > '~' || r == ':' {
			return "", fmt.Errorf("mailer: header name %q is not an RFC 5322 field name", name)
		}
	}
	switch textproto.CanonicalMIMEHeaderKey(name) {
	case "From", "To", "Subject", "Message-Id", "Date", "Content-Language", "Mime-Version", "Content-Type", "Content-Transfer-Encoding":
		return "", fmt.Errorf("mailer: header %q is one the mailer writes itself", name)
	}
	return name, nil
}
