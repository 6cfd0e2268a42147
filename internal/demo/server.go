package main

import (
	"crypto/rand"
	"embed"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"

	"github.com/invitekit/invites"
	"github.com/invitekit/invites/httpadapter"
)

//go:embed templates/*.html
var templateFS embed.FS

// pages are the demo's own HTML pages, each parsed with the shared layout.
type pages struct {
	svc    *invites.Service
	log    *slog.Logger
	tmpl   map[string]*template.Template
	emails *emails
}

// landingPath is the path of the emailed links: the landing page.
const landingPath = "/invite"

// newServer routes the API under /api/invites/ and the pages: / to send
// invites and watch them (with /demo/status, its status panel's figures,
// and /demo/email, the last email printed), /invite the landing page of
// an email's link (httpadapter.NewLanding) and /demo/welcome where its
// accept leads; /demo/links to make and manage shareable links, and /join
// where their URLs lead; /readyz, the readiness check, and /metrics, the
// Service's metrics in Prometheus format. All for the Host values allowed
// only, and refusing cross-origin writes (see guard.go).
func newServer(svc *invites.Service, log *slog.Logger, allowed hosts, metrics http.Handler, mail *emails) (http.Handler, error) {
	p := &pages{svc: svc, log: log, tmpl: map[string]*template.Template{}, emails: mail}
	for _, name := range []string{"send.html", "welcome.html", "email.html", "links.html", "join.html"} {
		t, err := template.ParseFS(templateFS, "templates/layout.html", "templates/script.html", "templates/"+name)
		if err != nil {
			return nil, err
		}
		p.tmpl[name] = t
	}
	api := httpadapter.New(svc, httpadapter.Config{
		Authenticate: func(r *http.Request) (invites.Actor, error) { return demoActor(r), nil },
		Joiner:       demoJoiner,
		Logger:       log,
	})
	landing, err := httpadapter.NewLanding(svc, httpadapter.LandingConfig{
		Path: landingPath,
		// One process: a secret of its own, so the forms of a landing
		// page do not outlive a restart.
		Secret: []byte(rand.Text() + rand.Text()),
		// The demo's stand-in user is always signed in, so the sign-in
		// page is never asked for; a host's would be.
		User: func(r *http.Request) (invites.Acceptor, bool) {
			return invites.Acceptor{UserID: demoActor(r).UserID}, true
		},
		SignInURL: func(back string) string { return back },
		AcceptedURL: func(_ *http.Request, inv invites.Invite) string {
			return "/demo/welcome?tenant=" + url.QueryEscape(inv.TenantID)
		},
		Logger: log,
	})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/api/invites/", http.StripPrefix("/api/invites", api))
	mux.Handle("/api/invites", http.StripPrefix("/api/invites", api))
	mux.HandleFunc("GET /{$}", p.send)
	mux.HandleFunc("GET /demo/status", p.status)
	mux.HandleFunc("GET /demo/email", p.email)
	mux.HandleFunc("GET /demo/welcome", p.welcome)
	mux.HandleFunc("GET /demo/links", p.links)
	mux.HandleFunc("GET "+joinPath, p.join)
	// Operations: the probes and scrapes of the host's own tooling, outside
	// the API's prefix.
	mux.Handle("/readyz", httpadapter.Ready(svc))
	mux.Handle("GET /metrics", metrics)
	// The landing page checks the origin of its forms itself, and answers
	// a forged one with a page that says so.
	root := http.NewServeMux()
	root.Handle(landingPath, landing)
	root.Handle("/", http.NewCrossOriginProtection().Handler(mux))
	return hostCheck(allowed, root), nil
}
