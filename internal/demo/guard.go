package main

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
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
//   - The landing page's Accept and Decline forms, plain HTML forms, carry
//     a CSRF token (see csrf), checked before anything is done.

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

// csrf binds a landing form to the browser that loaded it and to its
// invite token: a cookie holds a random nonce (SameSite=Strict, so no
// cross-site request carries it), and the form's csrf field is
// HMAC(secret, nonce, token) under a secret of this process. A forged
// POST has no cookie, or, with a nonce of the attacker's own, no MAC for
// it; a MAC of one invite does not accept another.
type csrf struct{ secret []byte }

const (
	csrfCookie = "demo_csrf"
	csrfField  = "csrf"
)

func newCSRF() *csrf {
	secret := make([]byte, 32)
	rand.Read(secret) // never fails (crypto/rand)
	return &csrf{secret: secret}
}

// issue returns the csrf field of a form for tok, setting the cookie when
// the browser has none, so two open landing pages both stay valid.
func (c *csrf) issue(w http.ResponseWriter, r *http.Request, tok string) string {
	ck, err := r.Cookie(csrfCookie)
	nonce := ""
	if err == nil && ck.Value != "" && len(ck.Value) <= 64 {
		nonce = ck.Value
	} else {
		nonce = rand.Text()
		http.SetCookie(w, &http.Cookie{Name: csrfCookie, Value: nonce, Path: "/invite",
			HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	}
	return c.mac(nonce, tok)
}

// valid reports whether the csrf field of r, a posted form for tok, is
// right, comparing in constant time.
func (c *csrf) valid(r *http.Request, tok string) bool {
	ck, err := r.Cookie(csrfCookie)
	if err != nil {
		return false
	}
	return hmac.Equal([]byte(r.PostFormValue(csrfField)), []byte(c.mac(ck.Value, tok)))
}

func (c *csrf) mac(nonce, tok string) string {
	m := hmac.New(sha256.New, c.secret)
	m.Write([]byte(nonce))
	m.Write([]byte{0})
	m.Write([]byte(tok))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}
