package httpadapter

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/invitekit/invites"
)

// LandingConfig sets up NewLanding. Zero fields take the default their
// comment names; Path, Secret, User and SignInURL are required.
type LandingConfig struct {
	// Path is where the host mounts the landing handler, the path of the
	// links invites.Config.AcceptURL writes (see LandingURL), such as
	// "/invite": the forms post to it and the sign-in page comes back to
	// it. It is a path of this host (LocalPath), without query.
	Path string
	// Secret keys the forms' CSRF tokens: at least 32 random bytes, the
	// same in every process that serves the page, kept out of the code.
	Secret []byte
	// User returns the signed-in user of r, from the host's own session,
	// and false when nobody is signed in. The user's Email is checked
	// against the invite's under invites.Config.RequireEmailMatch.
	User func(r *http.Request) (invites.Acceptor, bool)
	// SignInURL returns the URL of the host's sign-in (or sign-up) page
	// that brings the user back to back once signed in. back is always
	// LandingConfig.Path with the link's token, a LocalPath; the sign-in
	// page gets it in a URL anyone can write, so it checks it again with
	// LocalPath before redirecting to it.
	SignInURL func(back string) string
	// AcceptedURL returns where an accept sends the browser, with 303 See
	// Other: the invite's tenant, say. Default "/".
	AcceptedURL func(r *http.Request, inv invites.Invite) string
	// Home is where the page of a link already accepted leads on. Default
	// "/".
	Home string
	// FormAction lists the origins, beyond this one, that AcceptedURL and
	// SignInURL send the browser to: the page's Content-Security-Policy
	// allows its form to lead there (a browser checks the redirect after
	// a form against form-action). Default none.
	FormAction []string
	// Templates overrides and adds templates, laid out as
	// LandingTemplates: a file here replaces the embedded one of the same
	// path, and a new locale directory adds a locale. Default none.
	Templates fs.FS
	// DefaultLocale is the locale of a page whose invite and browser ask
	// for none the templates have. Default "en".
	DefaultLocale string
	// SecureCookie marks the CSRF cookie Secure even when a request came
	// without TLS: set it behind a proxy that ends TLS. A request over
	// TLS gets a Secure cookie whatever it says.
	SecureCookie bool
	// MaxBodyBytes bounds a posted form; a larger one is refused with
	// 413. Default 4 KiB, many times what the form sends.
	MaxBodyBytes int64
	// Logger gets the errors behind the page that says something went
	// wrong, never a token. Default slog.Default().
	Logger *slog.Logger
}

// DefaultLandingMaxBodyBytes is LandingConfig.MaxBodyBytes when it is zero.
const DefaultLandingMaxBodyBytes = 4 << 10

// MinLandingSecret is the least length of LandingConfig.Secret, in bytes.
const MinLandingSecret = 32

// LandingURL returns an invites.Config.AcceptURL whose links open the
// landing handler at page (an absolute URL such as
// "https://app.example/invite", whose path is LandingConfig.Path), with
// the token in the query parameter token. A link in a query reaches the
// server's access log: drop the query of that path from the log.
func LandingURL(page string) func(invites.Token) string {
	return func(t invites.Token) string { return page + "?token=" + url.QueryEscape(t.Reveal()) }
}

// LocalPath reports whether p is a path of this host, safe to redirect to
// after a sign-in: it starts with one slash, not two nor a backslash (which
// browsers read as another host), and holds no control character or space
// (which browsers drop before they read it).
func LocalPath(p string) bool {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") {
		return false
	}
	for _, c := range p {
		if c <= ' ' || c == 0x7f || c == '\\' {
			return false
		}
	}
	return true
}

// Landing is the page an invitation's link opens (see the package doc,
// "The landing page"). It is safe for concurrent use.
type Landing struct {
	svc   *invites.Service
	cfg   LandingConfig
	pages *landingTemplates
	csrf  landingCSRF
	cop   *http.CrossOriginProtection
	// csp is the Content-Security-Policy around the style's nonce.
	csp [2]string
}

var _ http.Handler = (*Landing)(nil)

// NewLanding returns the landing handler of svc's links, with every
// template parsed, so a broken host template fails at start.
func NewLanding(svc *invites.Service, cfg LandingConfig) (*Landing, error) {
	switch {
	case svc == nil:
		return nil, errors.New("httpadapter: NewLanding needs a Service")
	case !LocalPath(cfg.Path) || strings.ContainsAny(cfg.Path, "?#"):
		return nil, fmt.Errorf("httpadapter: LandingConfig.Path %q is not a path of this host", cfg.Path)
	case len(cfg.Secret) < MinLandingSecret:
		return nil, fmt.Errorf("httpadapter: LandingConfig.Secret has %d bytes, want %d at least", len(cfg.Secret), MinLandingSecret)
	case cfg.User == nil || cfg.SignInURL == nil:
		return nil, errors.New("httpadapter: LandingConfig needs User and SignInURL")
	}
	if cfg.AcceptedURL == nil {
		cfg.AcceptedURL = func(*http.Request, invites.Invite) string { return "/" }
	}
	if cfg.Home == "" {
		cfg.Home = "/"
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultLandingMaxBodyBytes
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	pages, err := parseLanding(cfg.Templates, cfg.DefaultLocale)
	if err != nil {
		return nil, err
	}
	formAction := "'self'"
	for _, o := range cfg.FormAction {
		if strings.ContainsAny(o, "; ,'\r\n") {
			return nil, fmt.Errorf("httpadapter: LandingConfig.FormAction %q is not a CSP source", o)
		}
		formAction += " " + o
	}
	return &Landing{svc: svc, cfg: cfg, pages: pages, csrf: landingCSRF{secret: cfg.Secret},
		cop: http.NewCrossOriginProtection(),
		csp: [2]string{"default-src 'none'; style-src 'nonce-", "'; img-src 'self'; form-action " + formAction +
			"; frame-ancestors 'none'; base-uri 'none'"}}, nil
}

// LandingState is what a landing page shows: the status of the link's
// invite, or why the link or form did not work.
type LandingState string

// The states of LandingPage.State.
const (
	LandingPending  LandingState = "pending"  // the invite can be accepted: the form
	LandingAccepted LandingState = "accepted" // the link was used to accept
	LandingDeclined LandingState = "declined" // the link was used to decline (LandingPage.Done: just now)
	LandingCanceled LandingState = "canceled" // the team withdrew the invite
	LandingExpired  LandingState = "expired"
	LandingInvalid  LandingState = "invalid"  // no invite has the token: mistyped, or a resend replaced it
	LandingRefused  LandingState = "refused"  // the form failed its CSRF or origin check, or was malformed
	LandingMismatch LandingState = "mismatch" // the signed-in user's email is not the invite's
	LandingError    LandingState = "error"    // the store or a hook failed; LandingConfig.Logger has why
)

// LandingPage is what the landing templates see.
type LandingPage struct {
	State LandingState
	// Done is set on the page of the decline this request made.
	Done bool
	// Invite is the link's public view, whole while it is pending and on
	// the page of a decline just made; only its Status otherwise (see
	// invites.Service.Check).
	Invite invites.TokenCheck
	// Name is the invitee's first and last name, "" when it has none or
	// the view withholds it.
	Name string
	// User is the signed-in user; SignedIn false when there is none.
	User     invites.Acceptor
	SignedIn bool
	// The form of a pending invite: Action is where it posts, Token and
	// CSRF its hidden fields token and csrf, and Locale its field locale
	// (the answer's language). Its buttons are named action, with the
	// value accept or decline.
	Action, Token, CSRF string
	// SignInURL signs the user in and comes back to the link.
	SignInURL string
	// Home is LandingConfig.Home.
	Home string
	// Locale is the locale of the templates rendering the page.
	Locale string
	// Nonce is the CSP nonce the page's <style> element must carry.
	Nonce string
}

// ServeHTTP shows the invite on GET and HEAD, and accepts or declines it
// on POST.
func (l *Landing) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	landingHeaders(w)
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		l.show(w, r)
	case http.MethodPost:
		l.post(w, r)
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

// show renders the link's invite as Check reads it: nothing is written,
// so a mail scanner that follows the link changes nothing. A pending
// invite gets the form and its CSRF token.
func (l *Landing) show(w http.ResponseWriter, r *http.Request) {
	tok := r.URL.Query().Get("token")
	p := l.page(r)
	view, err := l.svc.Check(r.Context(), tok)
	if err != nil {
		l.fail(w, r, p, err)
		return
	}
	p.Invite, p.State = view, stateOf(view.Status)
	if view.Status == "" {
		l.render(w, r, http.StatusNotFound, p)
		return
	}
	if view.IsValid {
		p.Action, p.Token, p.CSRF = l.cfg.Path, tok, l.csrf.issue(w, r, tok, l.cfg.Path, l.cfg.SecureCookie)
		p.SignInURL = l.cfg.SignInURL(l.back(tok))
	}
	l.render(w, r, http.StatusOK, p)
}

// post accepts or declines the token of a form that passed the origin
// and CSRF checks. An accept without a signed-in user goes to sign in
// first, and comes back to the link.
func (l *Landing) post(w http.ResponseWriter, r *http.Request) {
	p := l.page(r)
	r.Body = http.MaxBytesReader(w, r.Body, l.cfg.MaxBodyBytes)
	if err := r.ParseForm(); err != nil {
		code := http.StatusBadRequest
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			code = http.StatusRequestEntityTooLarge
		}
		p.State = LandingRefused
		l.render(w, r, code, p)
		return
	}
	p.Locale = r.PostForm.Get("locale") // the page's, for the answer's
	tok := r.PostForm.Get("token")
	if l.cop.Check(r) != nil || !l.csrf.valid(r, tok) {
		p.State = LandingRefused
		l.render(w, r, http.StatusForbidden, p)
		return
	}
	switch r.PostForm.Get("action") {
	case "accept":
		if !p.SignedIn {
			http.Redirect(w, r, l.cfg.SignInURL(l.back(tok)), http.StatusSeeOther)
			return
		}
		inv, err := l.svc.Accept(r.Context(), tok, p.User)
		if err != nil {
			p.SignInURL = l.cfg.SignInURL(l.back(tok))
			l.fail(w, r, p, err)
			return
		}
		http.Redirect(w, r, l.cfg.AcceptedURL(r, inv), http.StatusSeeOther)
	case "decline":
		inv, err := l.svc.Decline(r.Context(), tok)
		if err != nil {
			l.fail(w, r, p, err)
			return
		}
		p.State, p.Done, p.Invite = LandingDeclined, true, invites.PublicView(inv)
		l.render(w, r, http.StatusOK, p)
	default:
		p.State = LandingRefused
		l.render(w, r, http.StatusBadRequest, p)
	}
}

// page starts the page of r: the signed-in user and the host's links.
func (l *Landing) page(r *http.Request) LandingPage {
	u, ok := l.cfg.User(r)
	if !ok {
		u = invites.Acceptor{}
	}
	return LandingPage{User: u, SignedIn: ok, Home: l.cfg.Home}
}

// back is the path of the link of tok, for the sign-in page to come back
// to. It is built from the configured Path, never from the request, so
// no request can make it lead elsewhere.
func (l *Landing) back(tok string) string {
	return l.cfg.Path + "?token=" + url.QueryEscape(tok)
}

// fail renders the page of an error of the Service.
func (l *Landing) fail(w http.ResponseWriter, r *http.Request, p LandingPage, err error) {
	np, isNotPending := errors.AsType[*invites.NotPendingError](err)
	switch {
	case errors.Is(err, invites.ErrInvalidToken):
		p.State = LandingInvalid
		l.render(w, r, http.StatusNotFound, p)
	case errors.Is(err, invites.ErrExpired):
		p.State, p.Invite.Status = LandingExpired, invites.StatusExpired
		l.render(w, r, http.StatusGone, p)
	case isNotPending:
		p.State, p.Invite.Status = stateOf(np.Status), np.Status
		l.render(w, r, http.StatusConflict, p)
	case errors.Is(err, invites.ErrEmailMismatch):
		p.State = LandingMismatch
		l.render(w, r, http.StatusForbidden, p)
	default:
		l.cfg.Logger.ErrorContext(r.Context(), "httpadapter: landing page", "method", r.Method, "err", err)
		code := http.StatusInternalServerError
		if errors.Is(err, invites.ErrUnavailable) {
			code = http.StatusServiceUnavailable
		}
		p.State = LandingError
		l.render(w, r, code, p)
	}
}

// stateOf returns the page state of an invite's status, invalid for none.
func stateOf(st invites.Status) LandingState {
	if st == "" {
		return LandingInvalid
	}
	return LandingState(st)
}
