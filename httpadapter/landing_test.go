package httpadapter

import (
	"context"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/invitekit/invites"
	"github.com/invitekit/invites/token"
)

// Every state of a link shows its page: a pending invite its form, to a
// signed-in user Accept and to anyone Decline; an invite no longer
// pending, and a link that names none, a page in words with no form and
// no address. A resend replaces the link: the old one names no invite.
func TestLandingStates(t *testing.T) {
	e := newEnv(t)
	l := newLanding(t, e)
	ctx := context.Background()
	for _, c := range []struct {
		name  string
		setup func() string // the token
		as    *invites.Actor
		code  int
		state LandingState
		title string
		// present and absent are ids the page has and has not.
		present, absent []string
	}{
		{"pending, signed in", func() string { e.invite(alice, "p1@x.io"); return e.token("p1@x.io") }, &annUser,
			200, LandingPending, "Invitation to acme", []string{"accept", "decline"}, []string{"signin"}},
		{"pending, signed out", func() string { e.invite(alice, "p2@x.io"); return e.token("p2@x.io") }, nil,
			200, LandingPending, "Invitation to acme", []string{"signin", "decline"}, []string{"accept"}},
		{"accepted", func() string { e.final("a@x.io", invites.StatusAccepted); return e.token("a@x.io") }, &annUser,
			200, LandingAccepted, "Already accepted", []string{"next"}, []string{"accept", "decline", "signin"}},
		{"declined", func() string { e.final("d@x.io", invites.StatusDeclined); return e.token("d@x.io") }, &annUser,
			200, LandingDeclined, "Invitation declined", nil, []string{"accept", "decline", "next"}},
		{"canceled", func() string { e.final("c@x.io", invites.StatusCanceled); return e.token("c@x.io") }, &annUser,
			200, LandingCanceled, "Invitation withdrawn", nil, []string{"accept", "decline", "next"}},
		{"expired", func() string {
			e.invite(alice, "x@x.io")
			e.advance(envTTL)
			return e.token("x@x.io")
		}, &annUser, 200, LandingExpired, "Invitation expired", nil, []string{"accept", "decline", "next"}},
		{"replaced by a resend", func() string {
			inv := e.invite(alice, "r@x.io")
			old := e.token("r@x.io")
			e.advance(envCooldown)
			if _, err := e.svc.Resend(ctx, alice, inv.ID); err != nil {
				t.Fatal(err)
			}
			e.deliver()
			if e.token("r@x.io") == old {
				t.Fatal("the resend sent the old token")
			}
			return old
		}, &annUser, 404, LandingInvalid, "Invalid link", nil, []string{"accept", "decline", "next"}},
		{"unknown token", func() string { return strings.Repeat("A", token.Len) }, nil,
			404, LandingInvalid, "Invalid link", nil, []string{"accept", "decline"}},
		{"malformed token", func() string { return "<nope>" }, nil, 404, LandingInvalid, "Invalid link", nil, []string{"accept"}},
		{"no token", func() string { return "" }, nil, 404, LandingInvalid, "Invalid link", nil, []string{"accept"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := visit{target: link(c.setup()), as: c.as}.do(l)
			body := w.Body.String()
			if w.Code != c.code || state(w) != string(c.state) || title(w) != c.title {
				t.Fatalf("= %d %q %q, want %d %q %q\n%s", w.Code, state(w), title(w), c.code, c.state, c.title, body)
			}
			for _, id := range c.present {
				if !strings.Contains(body, `id="`+id+`"`) {
					t.Errorf("no #%s\n%s", id, body)
				}
			}
			for _, id := range c.absent {
				if strings.Contains(body, `id="`+id+`"`) {
					t.Errorf("#%s shown\n%s", id, body)
				}
			}
			if pending := c.state == LandingPending; pending != strings.Contains(body, "<form") ||
				pending != strings.Contains(body, "@x.io") {
				t.Errorf("a form or the address on a page %s\n%s", c.state, body)
			}
		})
	}
}

// Every page, and the redirects, keep the link out of caches and of the
// Referer, and run under a CSP that allows the page's style by its nonce,
// no script and no frame.
func TestLandingHeaders(t *testing.T) {
	_, l, o := landingOpened(t, "h@x.io", func(c *LandingConfig) { c.FormAction = []string{"https://accounts.example"} })
	tok, form, cookie := o.tok, o.form, o.cookie
	nonceAttr := regexp.MustCompile(`<style nonce="([^"]+)">`)
	var nonces []string
	for _, c := range []struct {
		name string
		v    visit
		code int
	}{
		{"pending", visit{target: link(tok), as: &annUser}, 200},
		{"invalid", visit{target: link("nope")}, 404},
		{"refused", visit{method: "POST", form: with(form, "csrf", "")}, 403},
		{"sign in first", visit{method: "POST", form: form, cookie: cookie}, 303},
		{"accepted", visit{method: "POST", form: form, cookie: cookie, as: &annUser}, 303},
	} {
		w := c.v.do(l)
		h := w.Header()
		if w.Code != c.code || h.Get("Cache-Control") != "no-store" || h.Get("Referrer-Policy") != "no-referrer" ||
			h.Get("X-Content-Type-Options") != "nosniff" || h.Get("X-Frame-Options") != "DENY" || h.Get("X-Robots-Tag") != "noindex, nofollow" {
			t.Errorf("%s: %d, headers %v", c.name, w.Code, h)
		}
		if w.Code == http.StatusSeeOther {
			continue
		}
		m := nonceAttr.FindStringSubmatch(w.Body.String())
		if m == nil {
			t.Fatalf("%s: no <style nonce>\n%s", c.name, w.Body)
		}
		want := "default-src 'none'; style-src 'nonce-" + m[1] + "'; img-src 'self'; form-action 'self' https://accounts.example; frame-ancestors 'none'; base-uri 'none'"
		if csp := h.Get("Content-Security-Policy"); csp != want {
			t.Errorf("%s: CSP %q, want %q", c.name, csp, want)
		}
		if strings.Contains(w.Body.String(), "<script") || strings.Contains(w.Body.String(), " style=") {
			t.Errorf("%s: a script or inline style attribute\n%s", c.name, w.Body)
		}
		if slices.Contains(nonces, m[1]) || len(m[1]) < 22 {
			t.Errorf("%s: nonce %q repeated or short", c.name, m[1])
		}
		nonces = append(nonces, m[1])
	}
}

// A mail scanner's GET and HEAD, with or without cookies, change nothing:
// the invite stays pending with no event added, and the link still
// accepts.
func TestLandingScannersChangeNothing(t *testing.T) {
	e, l, o := landingOpened(t, "s@x.io")
	inv, tok, cookie := o.inv, o.tok, o.cookie
	for _, v := range []visit{
		{target: link(tok)}, {method: "HEAD", target: link(tok)}, {target: link(tok), cookie: cookie},
		{method: "HEAD", target: link(tok), as: &annUser}, {target: link(tok) + "&action=accept", as: &annUser},
	} {
		if w := v.do(l); w.Code != 200 {
			t.Errorf("%s %s = %d", v.method, v.target, w.Code)
		}
	}
	evs, err := e.svc.History(context.Background(), alice, inv.ID)
	if err != nil || len(evs) != 2 {
		t.Fatalf("history after the scans = %v, %v; want created and sent only", evs, err)
	}
	if got, err := e.svc.Get(context.Background(), alice, inv.ID); err != nil || got.Status != invites.StatusPending {
		t.Fatalf("after the scans = %s, %v", got.Status, err)
	}
	if w := o.accept(l, &annUser); w.Code != http.StatusSeeOther {
		t.Fatalf("accept after the scans = %d\n%s", w.Code, w.Body)
	}
}

// Accept signs the user in first, then accepts as them and leads to the
// host's page; the link then says it was used. Decline needs no user.
func TestLandingAcceptAndDecline(t *testing.T) {
	e, l, o := landingOpened(t, "ann@x.io")
	inv, tok := o.inv, o.tok

	w := o.accept(l, nil)
	if loc := w.Header().Get("Location"); w.Code != http.StatusSeeOther || loc != signInPage+"%2Finvite%3Ftoken%3D"+tok {
		t.Fatalf("accept signed out = %d to %q, want 303 to sign in and back", w.Code, loc)
	}
	w = o.accept(l, &annUser)
	if loc := w.Header().Get("Location"); w.Code != http.StatusSeeOther || loc != "/t/acme" {
		t.Fatalf("accept = %d to %q\n%s", w.Code, loc, w.Body)
	}
	got, err := e.svc.Get(context.Background(), alice, inv.ID)
	if err != nil || got.Status != invites.StatusAccepted || got.AcceptedByUserID != annUser.UserID {
		t.Fatalf("after accept = %+v, %v", got, err)
	}
	// A second click, as a double submit sends it: the page of a used link.
	w = o.accept(l, &annUser)
	if w.Code != http.StatusConflict || state(w) != "accepted" || !strings.Contains(w.Body.String(), `id="next" class="button primary" href="/"`) {
		t.Fatalf("accept again = %d %q\n%s", w.Code, state(w), w.Body)
	}

	dee := openInvite(t, e, l, "dee@x.io")
	form, cookie := dee.form, dee.cookie
	w = visit{method: "POST", form: with(form, "action", "decline"), cookie: cookie}.do(l)
	if w.Code != 200 || state(w) != "declined" || !strings.Contains(w.Body.String(), "You have declined the invitation to <bdi>acme</bdi>") {
		t.Fatalf("decline = %d %q\n%s", w.Code, state(w), w.Body)
	}
	w = visit{method: "POST", form: with(form, "action", "accept"), cookie: cookie, as: &annUser}.do(l)
	if w.Code != http.StatusConflict || state(w) != "declined" || strings.Contains(w.Body.String(), "You have declined") {
		t.Fatalf("accept after decline = %d %q\n%s", w.Code, state(w), w.Body)
	}
	exp := openInvite(t, e, l, "exp@x.io")
	e.advance(envTTL)
	if w := exp.accept(l, &annUser); w.Code != http.StatusGone || state(w) != "expired" {
		t.Fatalf("accept after expiry = %d %q\n%s", w.Code, state(w), w.Body)
	}
}

// Under RequireEmailMatch, another account is told so, asked to sign in
// with the invited address, and accepts nothing.
func TestLandingEmailMismatch(t *testing.T) {
	e := newEnv(t)
	e.withService(func(c *invites.Config) { c.RequireEmailMatch = true })
	l := newLanding(t, e)
	o := openInvite(t, e, l, "ann@x.io")
	inv, tok := o.inv, o.tok
	other := invites.Actor{UserID: "u-mallory", Email: "mallory@x.io"}
	w := o.accept(l, &other)
	if w.Code != http.StatusForbidden || state(w) != "mismatch" || !strings.Contains(w.Body.String(), "mallory@x.io") ||
		!strings.Contains(w.Body.String(), `id="signin" class="button primary" href="/login?next=%2Finvite%3Ftoken%3D`+tok) {
		t.Fatalf("accept as another account = %d %q\n%s", w.Code, state(w), w.Body)
	}
	if got, _ := e.svc.Get(context.Background(), alice, inv.ID); got.Status != invites.StatusPending {
		t.Fatalf("after the mismatch = %s", got.Status)
	}
	if w := o.accept(l, &annUser); w.Code != http.StatusSeeOther {
		t.Fatalf("accept as the invited address = %d\n%s", w.Code, w.Body)
	}
}

// A store that fails or does not answer shows the page of an error, and
// the log has why, without the token.
func TestLandingStoreFails(t *testing.T) {
	e, l, o := landingOpened(t, "f@x.io")
	tok, form, cookie := o.tok, o.form, o.cookie
	for _, c := range []struct {
		name string
		set  func(bool)
		code int
	}{{"failing", e.store.fail.Store, 500}, {"down", e.store.down.Store, 503}} {
		c.set(true)
		for _, v := range []visit{{target: link(tok)}, {method: "POST", form: form, cookie: cookie, as: &annUser}} {
			if w := v.do(l); w.Code != c.code || state(w) != "error" || title(w) != "Something went wrong" {
				t.Errorf("%s: %s = %d %q", c.name, v.method, w.Code, state(w))
			}
		}
		c.set(false)
	}
	if logs := e.logs.String(); !strings.Contains(logs, errStoreDown.Error()) || strings.Contains(logs, tok) {
		t.Errorf("the log lacks the cause or holds the token:\n%s", logs)
	}
}

// Other methods are refused with Allow.
func TestLandingMethods(t *testing.T) {
	l := newLanding(t, newEnv(t))
	for _, m := range []string{"PUT", "DELETE", "PATCH", "OPTIONS"} {
		if w := (visit{method: m, target: link("x")}).do(l); w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "GET, HEAD, POST" {
			t.Errorf("%s = %d, Allow %q", m, w.Code, w.Header().Get("Allow"))
		}
	}
}
