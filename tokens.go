package invites

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
)

// TokenLen is the length of a RandomTokens token as text.
const TokenLen = 43

// RandomTokens is the default TokenIssuer, Config.Tokens when it is nil:
// 256-bit tokens from crypto/rand, base64url without padding, stored only
// as their SHA-256 digest. Its zero value is ready to use.
type RandomTokens struct{}

var _ TokenIssuer = RandomTokens{}

// New returns a fresh token and its digest.
func (RandomTokens) New() (Token, []byte, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", nil, err
	}
	t := base64.RawURLEncoding.EncodeToString(b[:])
	d := sha256.Sum256([]byte(t))
	return Token(t), d[:], nil
}

// Digest returns the SHA-256 digest of a well-formed token, or
// ErrInvalidToken without looking further.
func (RandomTokens) Digest(t string) ([]byte, error) {
	if len(t) != TokenLen {
		return nil, ErrInvalidToken
	}
	if b, err := base64.RawURLEncoding.Strict().DecodeString(t); err != nil || len(b) != 32 {
		return nil, ErrInvalidToken
	}
	d := sha256.Sum256([]byte(t))
	return d[:], nil
}
