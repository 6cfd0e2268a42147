package mailer

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/invitekit/invites"
)

// WriterConfig sets up a Writer. Zero fields take the default their
// comment names.
type WriterConfig struct {
	// From is the sender shown. Default "invites@localhost".
	From string
	// Renderer renders the emails. Default: NewRenderer(RenderConfig{}),
	// the embedded templates.
	Renderer *Renderer
	// HTML prints the HTML part too. Default false: headers and the text
	// part.
	HTML bool
	// Now stamps the Date header. Default time.Now.
	Now func() time.Time
}

// Writer is an invites.Mailer for development and the demo: it prints
// each rendered email (headers and text part, whose accept link it adds
// on a line of its own when the host's template leaves it out) to an
// io.Writer instead of sending it, so the link is printed once.
//
// The link carries the plaintext token: printing it is the Writer's job,
// so a developer can click it. Never send its output to a production log.
type Writer struct {
	w    io.Writer
	c    composer
	html bool
	mu   sync.Mutex // one email at a time, never interleaved
}

var _ invites.Mailer = (*Writer)(nil)

// NewWriter returns a Writer printing to w.
func NewWriter(w io.Writer, cfg WriterConfig) (*Writer, error) {
	if cfg.From == "" {
		cfg.From = "invites@localhost"
	}
	c, err := newComposer(cfg.From, cfg.Renderer, cfg.Now)
	if err != nil {
		return nil, err
	}
	return &Writer{w: w, c: c, html: cfg.HTML}, nil
}

// MessageIDDomain returns the domain of every Message-ID m mints, From's
// (invites.MessageIDDomainer).
func (m *Writer) MessageIDDomain() string { return m.c.domain }

// Send renders msg and prints it in one write.
func (m *Writer) Send(ctx context.Context, msg invites.Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	e, err := m.c.compose(ctx, msg)
	if err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "----- email %s -----\n", e.messageID)
	fmt.Fprintf(&b, "From: %s\nTo: %s\nSubject: %s\nDate: %s\nMessage-ID: %s\nContent-Language: %s\n\n",
		m.c.from, printedTo(e), e.Subject, e.date.Format(time.RFC1123Z), e.messageID, e.Locale)
	b.WriteString(strings.TrimRight(e.Text, "\n"))
	if m.html {
		b.WriteString("\n\n----- html -----\n")
		b.WriteString(strings.TrimRight(e.HTML, "\n"))
	}
	if !strings.Contains(e.Text, msg.AcceptURL) {
		fmt.Fprintf(&b, "\n\nLink: %s", msg.AcceptURL)
	}
	fmt.Fprintf(&b, "\n----- end %s -----\n", e.messageID)
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, err := io.WriteString(m.w, b.String()); err != nil {
		return fmt.Errorf("mailer: writing the email: %w", err)
	}
	return nil
}

// printedTo is the recipient as people read it, in UTF-8, with what the
// SMTP mailer makes of an address that is not ASCII: its domain in
// A-labels for a server without SMTPUTF8, or no send to one at all.
func printedTo(e composed) string {
	switch {
	case ascii(e.to):
		return e.to
	case !ascii(e.toASCII):
		return e.to + " (only to a server with SMTPUTF8)"
	}
	return e.to + " (" + e.toASCII + " without SMTPUTF8)"
}
