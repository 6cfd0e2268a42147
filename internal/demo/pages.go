package main

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"

	"github.com/invitekit/invites"
)

// The landing page and its forms carry the token (in the URL the email
// links to, then in a hidden field); nothing here logs a request's URL or
// form, so the token stays out of the logs.

// send serves the page to send invites and watch their status; its script
// talks to the JSON API.
func (p *pages) send(w http.ResponseWriter, r *http.Request) {
	p.render(w, http.StatusOK, "send.html", struct{ Actor invites.Actor }{demoActor(r)})
}

// landingView is what the landing page shows of an invite: its public
// view, whole only while the invite is pending, and otherwise what became
// of it.
type landingView struct {
	Actor  invites.Actor
	Invite invites.TokenCheck
	Closed closedView // for an invite no longer pending
	Token  string
	CSRF   string // the forms' csrf field
}

// closedView says, of an invite no longer pending, what became of it in
// plain words and what the invitee can do now.
type closedView struct {
	Title, Message string
	Next, NextURL  string // a link onward, if there is one
}

// closed returns the closedView of status st.
func closed(st invites.Status) closedView {
	ask := "ask the person who invited you to send a new invitation."
	switch st {
	case invites.StatusAccepted:
		return closedView{Title: "Already accepted",
			Message: "This invitation has already been accepted, so you are a member. Sign in to continue.",
			Next:    "Sign in and continue", NextURL: "/"}
	case invites.StatusDeclined:
		return closedView{Title: "Invitation declined",
			Message: "This invitation was declined. If you have changed your mind, " + ask}
	case invites.StatusCanceled:
		return closedView{Title: "Invitation withdrawn",
			Message: "This invitation was withdrawn by the team that sent it. If you still want to join, " + ask}
	case invites.StatusExpired:
		return closedView{Title: "Invitation expired",
			Message: "This invitation has expired. To join, " + ask}
	}
	return closedView{Title: "Invitation", Message: "This invitation is " + string(st) + "."}
}

// landing is the page an email's link opens: it only looks the token up,
// since mail scanners follow links; accepting and declining are POSTs.
func (p *pages) landing(w http.ResponseWriter, r *http.Request) {
	noLeak(w)
	tok := r.URL.Query().Get("token")
	view, err := p.svc.Check(r.Context(), tok)
	if err == nil && view.Status == "" {
		err = invites.ErrInvalidToken
	}
	if err != nil {
		p.outcome(w, r, "", invites.Invite{}, err)
		return
	}
	v := landingView{Actor: demoActor(r), Invite: view}
	if view.IsValid {
		v.Token, v.CSRF = tok, p.csrf.issue(w, r, tok)
	} else {
		v.Closed = closed(view.Status)
	}
	p.render(w, http.StatusOK, "invite.html", v)
}

// accept accepts the invite of the form's token as the demo user.
func (p *pages) accept(w http.ResponseWriter, r *http.Request) {
	noLeak(w)
	if p.forged(w, r) {
		return
	}
	inv, err := p.svc.Accept(r.Context(), r.PostFormValue("token"), invites.Acceptor{UserID: demoActor(r).UserID})
	p.outcome(w, r, "accepted", inv, err)
}

// decline declines the invite of the form's token.
func (p *pages) decline(w http.ResponseWriter, r *http.Request) {
	noLeak(w)
	if p.forged(w, r) {
		return
	}
	inv, err := p.svc.Decline(r.Context(), r.PostFormValue("token"))
	p.outcome(w, r, "declined", inv, err)
}

// forged answers 403 to a form without the csrf field its landing page
// gave this browser for its token, and reports whether it did.
func (p *pages) forged(w http.ResponseWriter, r *http.Request) bool {
	if p.csrf.valid(r, r.PostFormValue("token")) {
		return false
	}
	p.render(w, http.StatusForbidden, "outcome.html", outcomeView{Title: "Form refused",
		Message: "This form did not come from the invitation page in this browser. Open the link in the email again."})
	return true
}

// noLeak keeps a page whose URL or form holds a token out of caches and
// out of the Referer of the links it shows.
func noLeak(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
}

// outcomeView is the page after a lookup failed or a form was posted.
type outcomeView struct {
	Title   string
	Message string
	Status  invites.Status // of the invite, when known
	Next    string         // a link onward, if there is one
	NextURL string
}

// outcome shows what became of an accept or decline (done), or why the
// link or form did not work.
func (p *pages) outcome(w http.ResponseWriter, r *http.Request, done string, inv invites.Invite, err error) {
	code, v := http.StatusOK, outcomeView{}
	var (
		np *invites.NotPendingError
		in *invites.InputError
	)
	switch {
	case err == nil && inv.Status == invites.StatusAccepted:
		v = outcomeView{Title: "Invitation accepted", Status: inv.Status, Next: "Continue to " + inv.TenantID, NextURL: "/",
			Message: fmt.Sprintf("Welcome: %s is now a member of %s.", inv.Email, inv.TenantID)}
	case err == nil:
		v = outcomeView{Title: "Invitation " + done, Status: inv.Status,
			Message: fmt.Sprintf("You have %s the invitation to %s. Nothing more will happen.", done, inv.TenantID)}
	case errors.Is(err, invites.ErrInvalidToken):
		code, v = http.StatusNotFound, outcomeView{Title: "Invalid link",
			Message: "This link is not valid: it may be mistyped, or a newer email replaced it. Open the link in the latest invitation email."}
	case errors.Is(err, invites.ErrExpired):
		code, v = http.StatusGone, fromClosed(invites.StatusExpired)
	case errors.As(err, &np):
		code, v = http.StatusConflict, fromClosed(np.Status)
	case errors.As(err, &in):
		code, v = http.StatusBadRequest, outcomeView{Title: "Not accepted",
			Message: "The demo user cannot accept this invitation: " + in.Field + " " + in.Reason + "."}
	default:
		p.log.ErrorContext(r.Context(), "demo: invite page failed", "err", err)
		code, v = http.StatusInternalServerError, outcomeView{Title: "Something went wrong",
			Message: "The invitation could not be handled. Try again later."}
	}
	p.render(w, code, "outcome.html", v)
}

// fromClosed returns the outcome page of an invite no longer pending.
func fromClosed(st invites.Status) outcomeView {
	c := closed(st)
	return outcomeView{Title: c.Title, Message: c.Message, Status: st, Next: c.Next, NextURL: c.NextURL}
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
