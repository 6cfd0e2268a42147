// Package token is the default invites.TokenIssuer: 256-bit random tokens
// from crypto/rand, base64url without padding (43 characters), stored only
// as their SHA-256 digest.
package token

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"

	"github.com/invitekit/invites"
)

// Len is the length of a token as text.
const Len = 43

// Issuer makes tokens. Its zero value is ready to use.
type Issuer struct{}

var _ invites.TokenIssuer = Issuer{}

// New returns a fresh token and its digest.
func (Issuer) New() (invites.Token, []byte, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", nil, err
	}
	t := base64.RawURLEncoding.EncodeToString(b[:])
	d := sha256.Sum256([]byte(t))
	return invites.Token(t), d[:], nil
}

// Digest returns the SHA-256 digest of a well-formed token, or
// invites.ErrInvalidToken without looking further.
func (Issuer) Digest(t string) ([]byte, error) {
	if len(t) != Len {
		return nil, invites.ErrInvalidToken
	}
	if b, err := base64.RawURLEncoding.Strict().DecodeString(t); err != nil || len(b) != 32 {
		return nil, invites.ErrInvalidToken
	}
	d := sha256.Sum256([]byte(t))
	return d[:], nil
}
