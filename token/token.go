// Package token names the default invites.TokenIssuer, invites.RandomTokens,
// which a Service uses when Config.Tokens is nil: 256-bit random tokens
// from crypto/rand, base64url without padding (43 characters), stored only
// as their SHA-256 digest.
package token

import "github.com/invitekit/invites"

// Len is the length of a token as text.
const Len = invites.TokenLen

// Issuer makes tokens. Its zero value is ready to use.
type Issuer = invites.RandomTokens
