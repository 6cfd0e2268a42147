package main

import (
	"fmt"
	"net"
	"net/http"
	"strings"
)

// The demo's stand-in authentication makes every request without demo
// headers the demo admin, so any page a browser opens could act as that
// admin through it. Four layers keep other sites out:
//
//   - hostCheck serves only requests whose Host names the demo: the -addr
//     it listens on, localhost, 127.0.0.1 and [::1] with its port, and any
//     -host. A DNS-rebinding page, whose own name stays in Host even once
//     it resolves to the demo, gets 421 and reaches nothing.
//   - http.CrossOriginProtection refuses a POST that Sec-Fetch-Site or
//     Origin says comes from another origin.
//   - The API's writes need Content-Type application/json (httpadapter),
//     which a cross-site form cannot send without a CORS preflight, and
//     the demo answers no preflight.
//   - The landing page (httpadapter.NewLanding) checks its forms' origin
//     itself, and their CSRF token, bound to the link and to a
//     SameSite=Strict cookie, before anything is done.

// hosts are the Host values the demo serves, lower case.
type hosts map[string]bool

// allowedHosts returns the demo's own names on the port of listen (the
// address it listens on), and extra, each host:port.
func allowedHosts(listen string, extra []string) (hosts, error) {
	_, port, err := net.SplitHostPort(listen)
	if err != nil {
		return nil, err
	}
	h := hosts{}
	for _, name := range append([]string{listen, net.JoinHostPort("localhost", port),
		net.JoinHostPort("127.0.0.1", port), net.JoinHostPort("::1", port)}, extra...) {
		h[strings.ToLower(name)] = true
	}
	return h, nil
}

// hostCheck returns next behind a check that answers 421 Misdirected
// Request to a Host the demo is not.
func hostCheck(allowed hosts, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !allowed[strings.ToLower(r.Host)] {
			http.Error(w, "this demo does not serve that host name (see -host)", http.StatusMisdirectedRequest)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// parseHosts returns the host:port values of -host, comma-separated.
func parseHosts(v string) ([]string, error) {
	var out []string
	for h := range strings.SplitSeq(v, ",") {
		if h = strings.TrimSpace(h); h == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(h); err != nil {
			return nil, fmt.Errorf("-host %q is not host:port: %w", h, err)
		}
		out = append(out, h)
	}
	return out, nil
}
