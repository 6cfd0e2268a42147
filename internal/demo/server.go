package main

import (
	"embed"
	"html/template"
	"log/slog"
	"net/http"

	"github.com/invitekit/invites"
	"github.com/invitekit/invites/httpadapter"
)

//go:embed templates/*.html
var templateFS embed.FS

// pages are the HTML pages, each parsed with the shared layout.
type pages struct {
	svc  *invites.Service
	log  *slog.Logger
	tmpl map[string]*template.Template
	csrf *csrf
}

// newServer routes the API under /api/invites/ and the pages: / to send
// invites and watch them (with /demo/status, its status panel's figures),
// /invite the landing page of an email's link and /invite/accept,
// /invite/decline its forms; /readyz, the readiness check, and /metrics,
// the Service's metrics in Prometheus format. All for the
// Host values allowed only, and refusing cross-origin writes (see
// guard.go).
func newServer(svc *invites.Service, log *slog.Logger, allowed hosts, metrics http.Handler) (http.Handler, error) {
	p := &pages{svc: svc, log: log, tmpl: map[string]*template.Template{}, csrf: newCSRF()}
	for _, name := range []string{"send.html", "invite.html", "outcome.html"} {
		t, err := template.ParseFS(templateFS, "templates/layout.html", "templates/"+name)
		if err != nil {
			return nil, err
		}
		p.tmpl[name] = t
	}
	api := httpadapter.New(svc, httpadapter.Config{
		Authenticate: func(r *http.Request) (invites.Actor, error) { return demoActor(r), nil },
		Logger:       log,
	})
	mux := http.NewServeMux()
	mux.Handle("/api/invites/", http.StripPrefix("/api/invites", api))
	mux.Handle("/api/invites", http.StripPrefix("/api/invites", api))
	mux.HandleFunc("GET /{$}", p.send)
	mux.HandleFunc("GET /invite", p.landing)
	mux.HandleFunc("POST /invite/accept", p.accept)
	mux.HandleFunc("POST /invite/decline", p.decline)
	mux.HandleFunc("GET /demo/status", p.status)
	// Operations: the probes and scrapes of the host's own tooling, outside
	// the API's prefix.
	mux.Handle("/readyz", httpadapter.Ready(svc))
	mux.Handle("GET /metrics", metrics)
	return hostCheck(allowed, http.NewCrossOriginProtection().Handler(mux)), nil
}
