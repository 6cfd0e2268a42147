package httpadapter

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
)

// landingCSRF binds a landing form to the browser that loaded it and to
// its link: a cookie holds a random nonce, and the form's csrf field is
// HMAC-SHA256(secret, nonce, SHA-256 of the token). A forged post has no
// cookie (SameSite=Strict: no cross-site request carries it), or with a
// nonce of the attacker's own no MAC for it without the secret, and the
// MAC of one link accepts no other. The origin check (Sec-Fetch-Site,
// Origin) runs before it, so a cross-site post is refused even by a
// browser that would send the cookie.
type landingCSRF struct{ secret []byte }

const (
	landingCookie = "invites_landing"
	// nonceLen is the length of rand.Text, the nonce's form.
	nonceLen = 26
)

// issue returns the csrf field of a form for tok, setting the cookie when
// the browser has none, so two open landing pages both stay valid.
func (c landingCSRF) issue(w http.ResponseWriter, r *http.Request, tok, path string, secure bool) string {
	nonce, ok := cookieNonce(r)
	if !ok {
		nonce = rand.Text()
		http.SetCookie(w, &http.Cookie{Name: landingCookie, Value: nonce, Path: path,
			HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: secure || r.TLS != nil})
	}
	return c.mac(nonce, tok)
}

// valid reports whether the csrf field of r, a parsed form for tok, is
// the MAC of r's cookie, compared in constant time.
func (c landingCSRF) valid(r *http.Request, tok string) bool {
	nonce, ok := cookieNonce(r)
	return ok && hmac.Equal([]byte(r.PostForm.Get("csrf")), []byte(c.mac(nonce, tok)))
}

// cookieNonce returns the nonce of r's cookie, if it has one of the form
// issue makes.
func cookieNonce(r *http.Request) (string, bool) {
	ck, err := r.Cookie(landingCookie)
	if err != nil || len(ck.Value) != nonceLen {
		return "", false
	}
	return ck.Value, true
}

func (c landingCSRF) mac(nonce, tok string) string {
	d := sha256.Sum256([]byte(tok))
	m := hmac.New(sha256.New, c.secret)
	m.Write([]byte("invites landing form\x00"))
	m.Write([]byte(nonce))
	m.Write(d[:])
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}
