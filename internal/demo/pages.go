package main

import (
	"bytes"
	"net/http"

	"github.com/invitekit/invites"
)

// send serves the page to send invites and watch their status; its script
// talks to the JSON API.
func (p *pages) send(w http.ResponseWriter, r *http.Request) {
	p.render(w, http.StatusOK, "send.html", struct {
		Actor invites.Actor
		SMTP  string // where the emails go, "" for the terminal
	}{demoActor(r), p.emails.smtp})
}

// welcome is where an accept on the landing page leads: the page a host
// would show a new member of tenant.
func (p *pages) welcome(w http.ResponseWriter, r *http.Request) {
	p.render(w, http.StatusOK, "welcome.html", struct{ Tenant string }{r.URL.Query().Get("tenant")})
}

// render writes page name with status code, or a 500 if it fails to
// execute, which would be a bug of the templates.
func (p *pages) render(w http.ResponseWriter, code int, name string, data any) {
	var b bytes.Buffer
	if err := p.tmpl[name].ExecuteTemplate(&b, "layout", data); err != nil {
		p.log.Error("demo: rendering a page", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	w.Write(b.Bytes())
}
