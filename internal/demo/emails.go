package main

import (
	"bytes"
	"net/http"
	"regexp"
	"sync"
)

// emails is what the send page tells of the demo's emails: where they go
// and, when the console mailer prints them, the last one, which the page
// links to so that its link is a click away. Demo only: that page shows
// the last invitee's link, of any tenant, to whoever reaches the demo,
// which is meant for one user.
type emails struct {
	smtp string // the -smtp server, "" when they are printed
	mu   sync.Mutex
	last []byte // the last email printed, whole
}

// emailStart begins each email mailer.Writer prints, in one write.
var emailStart = []byte("----- email ")

// Write keeps p when it is an email: set beside stdout as the console
// mailer's output, it sees each email whole.
func (e *emails) Write(p []byte) (int, error) {
	if bytes.HasPrefix(p, emailStart) {
		e.mu.Lock()
		e.last = bytes.Clone(p)
		e.mu.Unlock()
	}
	return len(p), nil
}

// lastEmail is the last email printed, as its page shows it.
type lastEmail struct {
	To   string
	Text string // whole, headers and link included
	Link string
}

var (
	toLine = regexp.MustCompile(`(?m)^To: (.*)$`)
	// The accept link, wherever the text part prints it (once).
	linkLine = regexp.MustCompile(`(https?://\S+` + regexp.QuoteMeta(landingPath) + `\?token=[A-Za-z0-9_%-]+)`)
)

// lastOne returns the last email printed, and false when there is none.
func (e *emails) lastOne() (lastEmail, bool) {
	e.mu.Lock()
	b := e.last
	e.mu.Unlock()
	if b == nil {
		return lastEmail{}, false
	}
	field := func(re *regexp.Regexp) string {
		if m := re.FindSubmatch(b); m != nil {
			return string(m[1])
		}
		return ""
	}
	return lastEmail{To: field(toLine), Text: string(b), Link: field(linkLine)}, true
}

// email shows the last email printed, its link one click away.
func (p *pages) email(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	last, ok := p.emails.lastOne()
	if !ok {
		p.render(w, http.StatusNotFound, "email.html", nil)
		return
	}
	p.render(w, http.StatusOK, "email.html", last)
}
