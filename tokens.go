package invites

import "github.com/invitekit/invites/token"

// The token's type and the default issuer live in package token, which
// the root builds on; these aliases keep the names hosts' code writes.

// Token is token.Token, the plaintext invite token, under the name hosts
// write in Config.AcceptURL and Message.Token.
type Token = token.Token

// RandomTokens is token.Issuer, the default TokenIssuer (Config.Tokens
// when it is nil), under the name hosts and Config know it by.
type RandomTokens = token.Issuer

var _ TokenIssuer = token.Issuer{}
