package invites

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"hash"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// Idempotent retries: a client that sent a write and got no answer (a 503,
// a timeout, a dropped connection) cannot tell whether it committed. With
// an idempotency key it retries safely: the store keeps the key, a
// fingerprint of the request and the answer in the commit of the write,
// and a retry with the same key and request gets that answer again and
// writes nothing (the semantics of the IETF httpapi draft
// "The Idempotency-Key HTTP Header Field"). The rule (what a request is,
// its fingerprint, the answer) is the Service's; a store keeps bytes.

// The store's part of the contract (see store.go).

// Idempotency is a client's key on a write (WithIdempotencyKey).
// A store keeps the key's record in the commit of the write it guards,
// with Fingerprint and the answer the write's params give, until
// ExpiresAt. Before it writes, a store looks for a live record of the
// same TenantID, Scope and Key (ExpiresAt after the write's Now): with the
// same Fingerprint it writes nothing and returns a *ReplayError holding
// the answer kept; with another, ErrIdempotencyMismatch. An expired
// record is as none, and replaced. A write racing another of the same key
// waits until that one commits (then replays) or fails (then writes); the
// key is taken before any other lock of the write, so no two writes wait
// on each other in a circle.
type Idempotency struct {
	TenantID string
	// Scope is who may use the key in the tenant: the actor, or for the
	// token routes the token's digest.
	Scope       string
	Key         string
	Fingerprint []byte
	ExpiresAt   time.Time
}

// ReplayError answers a write whose Idempotency key a store kept already
// with the same fingerprint: nothing was written, and Answer is the
// answer kept with the key.
type ReplayError struct{ Answer []byte }

func (e *ReplayError) Error() string {
	return "invites: the write was made before under this idempotency key"
}

// MaxIdempotencyKeyBytes bounds an idempotency key.
const MaxIdempotencyKeyBytes = 255

type idempotencyKey struct{}

// WithIdempotencyKey returns ctx carrying key, a client's idempotency key
// for the write the Service makes with it: Send, Update, Cancel, Resend,
// Accept, Decline or Forget. For Config.IdempotencyTTL after the write
// commits, the same call with the same key gets the first answer again and
// writes nothing (no second invite, no second email); a call with the
// same key and other arguments is ErrIdempotencyMismatch. A key is the
// actor's own in its tenant (for Accept and Decline, the token's): other
// actors' keys never meet it. A write refused or failed keeps nothing, so
// its retry runs anew. A key is 1 to MaxIdempotencyKeyBytes printable
// ASCII characters (a UUID, say); another is ErrInvalidInput. Reads ignore
// the key.
func WithIdempotencyKey(ctx context.Context, key string) context.Context {
	return context.WithValue(ctx, idempotencyKey{}, key)
}

// validKey checks a key as WithIdempotencyKey describes.
func validKey(k string) error {
	if k == "" || len(k) > MaxIdempotencyKeyBytes {
		return invalid("idempotencyKey", "must be 1 to %d characters", MaxIdempotencyKeyBytes)
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x20 || k[i] > 0x7e {
			return invalid("idempotencyKey", "must be printable ASCII")
		}
	}
	return nil
}

// fingerprint hashes a request: each part written with its length, so
// no two requests share a stream.
type fingerprint struct{ h hash.Hash }

func newFingerprint(op string) fingerprint {
	f := fingerprint{sha256.New()}
	f.add(op)
	return f
}

func (f fingerprint) add(parts ...string) {
	var n [8]byte
	for _, p := range parts {
		binary.BigEndian.PutUint64(n[:], uint64(len(p)))
		f.h.Write(n[:])
		f.h.Write([]byte(p))
	}
}

// addOpt writes an optional part: set or not, then its value.
func (f fingerprint) addOpt(set bool, v string) {
	if set {
		f.add("1", v)
	} else {
		f.add("0")
	}
}

func (f fingerprint) addList(l []string) {
	f.addOpt(l != nil, "")
	f.add(strconv.Itoa(len(l)))
	f.add(l...)
}

// guard returns the Idempotency of a write of scope in tenant whose
// request f printed, or nil when ctx carries no key.
func (s *Service) guard(ctx context.Context, tenant, scope string, now time.Time, f fingerprint) (*Idempotency, error) {
	key, ok := ctx.Value(idempotencyKey{}).(string)
	if !ok {
		return nil, nil
	}
	if err := validKey(key); err != nil {
		return nil, err
	}
	return &Idempotency{TenantID: tenant, Scope: scope, Key: key, Fingerprint: f.h.Sum(nil),
		ExpiresAt: now.Add(s.cfg.IdempotencyTTL)}, nil
}

// actorScope and tokenScope are the Scope of a key: an actor's, or for
// the token routes, which take no login, the token's.
func actorScope(a Actor) string  { return "user:" + a.UserID }
func tokenScope(d []byte) string { return "token:" + hex.EncodeToString(d) }

// printItems prints a Send's request.
func printItems(items []NewInvite) fingerprint {
	f := newFingerprint(OpNameSend)
	own := false
	for _, it := range items {
		f.add(it.Email, it.FirstName, it.LastName, it.Locale)
		f.addOpt(it.Data != nil, string(it.Data))
		f.addList(it.Roles)
		own = own || it.Channel != "" || it.TTL != 0
	}
	// After the items, and only when one names them, so a request
	// without them prints as before they were.
	if own {
		f.add("own")
		for _, it := range items {
			f.add(string(it.Channel), strconv.FormatInt(int64(it.TTL), 10))
		}
	}
	return f
}

// keptInvite is an Invite as an answer is kept: every field as it was,
// nil or not (encoding/json would read a nil Data back as null).
type keptInvite struct {
	plainInvite
	Data []byte `json:"data"`
	// Linked: the answer held the invite's link, which is not kept; a
	// replay is ErrLinkNotKept.
	Linked bool `json:"linked,omitzero"`
}

func keep(inv Invite) keptInvite { return keptInvite{plainInvite: plainInvite(inv), Data: inv.Data} }

func (k keptInvite) invite() Invite {
	inv := Invite(k.plainInvite)
	inv.Data = k.Data
	return inv
}

type keptSend struct {
	Success []keptInvite
	Errors  []ItemError
}

func keepSend(r SendResult) ([]byte, error) {
	k := keptSend{Success: make([]keptInvite, len(r.Success)), Errors: r.Errors}
	for i, inv := range r.Success {
		k.Success[i] = keep(inv)
		_, k.Success[i].Linked = r.Links[inv.ID]
	}
	return json.Marshal(k)
}

func replaySend(b []byte) (SendResult, error) {
	var k keptSend
	if err := json.Unmarshal(b, &k); err != nil {
		return SendResult{}, errors.New("invites: the answer kept with the idempotency key is unreadable: " + err.Error())
	}
	r := SendResult{Success: make([]Invite, len(k.Success)), Errors: k.Errors}
	for i, inv := range k.Success {
		if inv.Linked {
			return SendResult{}, ErrLinkNotKept
		}
		r.Success[i] = inv.invite()
	}
	return r, nil
}

func keepInvite(inv Invite) ([]byte, error) { return json.Marshal(keep(inv)) }

// keepLinked keeps the answer of a resend that returned a link: the
// invite, and that its link is not kept.
func keepLinked(inv Invite) ([]byte, error) {
	k := keep(inv)
	k.Linked = true
	return json.Marshal(k)
}

func replayInvite(b []byte) (Invite, error) {
	var k keptInvite
	if err := json.Unmarshal(b, &k); err != nil {
		return Invite{}, errors.New("invites: the answer kept with the idempotency key is unreadable: " + err.Error())
	}
	if k.Linked {
		return Invite{}, ErrLinkNotKept
	}
	return k.invite(), nil
}

func replayIDs(b []byte) ([]uuid.UUID, error) {
	var ids []uuid.UUID
	if err := json.Unmarshal(b, &ids); err != nil {
		return nil, errors.New("invites: the answer kept with the idempotency key is unreadable: " + err.Error())
	}
	return ids, nil
}
