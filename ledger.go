package invites

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
)

// The send ledger's keys are computed here, by the Service, so the rule
// (what is keyed, with what) is in one place for every store, and a store
// never holds the secret: it keeps and compares opaque keys. The secret is
// Config.LedgerSecret or, when unset, the store's (Store.LedgerSecret),
// which every process of a deployment shares, so they all count one
// address under one key.

// MinLedgerSecret is the least length of Config.LedgerSecret.
const MinLedgerSecret = 32

// ledgerKeyBytes is how much of the HMAC a key keeps: 128 bits, so two
// addresses of one store never share a key in practice.
const ledgerKeyBytes = 16

// LedgerKey is the key of the address emailNorm (in NormalizeEmail's form)
// in the send ledger: an HMAC-SHA256 of it keyed by secret, so the ledger
// holds no address and one cannot be found from a key without the secret.
// It does not depend on the tenant: the limit across tenants counts an
// address's sends from all of them, and the ledger's rows name their
// tenant beside.
func LedgerKey(secret []byte, emailNorm string) []byte {
	return addressKey(secret, "invites.ledger.v1\x00", emailNorm)
}

// SuppressionKey is the key of the address emailNorm (in NormalizeEmail's
// form) in the suppression list (see SuppressionStore): LedgerKey's HMAC
// under the same secret, in a domain of its own, so a key of one list
// tells nothing of the other and neither holds the address.
func SuppressionKey(secret []byte, emailNorm string) []byte {
	return addressKey(secret, "invites.suppression.v1\x00", emailNorm)
}

// addressKey is the HMAC-SHA256 of emailNorm keyed by secret in domain.
func addressKey(secret []byte, domain, emailNorm string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(domain))
	m.Write([]byte(emailNorm))
	return m.Sum(nil)[:ledgerKeyBytes]
}

// ledger holds the secret once known.
type ledger struct {
	mu     sync.Mutex
	secret []byte
}

// ledgerKey returns the function giving the ledger key of an address.
func (s *Service) ledgerKey(ctx context.Context) (func(string) []byte, error) {
	return s.keyed(ctx, LedgerKey)
}

// keyed returns key bound to the ledger's secret, asking the store for it
// the first time when Config has none. A failure is not kept, so a store
// that comes back serves the next call.
func (s *Service) keyed(ctx context.Context, key func(secret []byte, emailNorm string) []byte) (func(string) []byte, error) {
	l := &s.ledger
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.secret == nil {
		secret, err := s.store.LedgerSecret(ctx)
		if err != nil {
			return nil, fmt.Errorf("invites: reading the send ledger's secret: %w", err)
		}
		if len(secret) < MinLedgerSecret {
			return nil, errors.New("invites: the store's ledger secret is too short")
		}
		l.secret = secret
	}
	secret := l.secret
	return func(n string) []byte { return key(secret, n) }, nil
}
