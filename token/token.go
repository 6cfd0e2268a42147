// Package token is the invite token: Token, the plaintext that never
// prints, and Issuer, the issuer a Service uses when Config.Tokens is nil,
// which mints 256-bit random tokens and keeps only their SHA-256 digest.
// It imports nothing of the invites module, so the root package builds on
// it and a host may use it alone (to mint or check tokens in a test, say).
package token

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"log/slog"
)

// Len is the length of an Issuer's token as text: 32 random bytes in
// base64url without padding.
const Len = 43

// ErrInvalid is the error of a malformed token. invites.ErrInvalidToken is
// the same error, so either matches with errors.Is.
var ErrInvalid = errors.New("invites: invalid token")

// Redacted is what a Token prints, logs and marshals as.
const Redacted = "REDACTED"

// Token is a plaintext invite token. It prints and logs as Redacted; only
// Reveal gives the secret, for the email link.
type Token string

func (Token) String() string               { return Redacted }
func (Token) GoString() string             { return Redacted }
func (Token) LogValue() slog.Value         { return slog.StringValue(Redacted) }
func (Token) MarshalText() ([]byte, error) { return []byte(Redacted), nil }

// Reveal returns the plaintext token.
func (t Token) Reveal() string { return string(t) }

// Issuer mints 256-bit tokens from crypto/rand, base64url without
// padding, and digests them with SHA-256. Its zero value is ready to use.
type Issuer struct{}

// New returns a fresh token and its digest.
func (Issuer) New() (Token, []byte, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", nil, err
	}
	t := base64.RawURLEncoding.EncodeToString(b[:])
	return Token(t), digest(t), nil
}

// Digest returns the digest of a well-formed token, or ErrInvalid without
// looking further, so junk never reaches a store.
func (Issuer) Digest(t string) ([]byte, error) {
	if len(t) != Len {
		return nil, ErrInvalid
	}
	if b, err := base64.RawURLEncoding.Strict().DecodeString(t); err != nil || len(b) != 32 {
		return nil, ErrInvalid
	}
	return digest(t), nil
}

// digest is what a store keeps of the token t: its SHA-256.
func digest(t string) []byte {
	d := sha256.Sum256([]byte(t))
	return d[:]
}
