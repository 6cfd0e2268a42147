package bouncehook

import (
	"errors"
	"io"
	"net/http"
	"sync"
	"time"
)

// MaxBodyBytes bounds a webhook's body: a larger one is answered 413
// unread. SendGrid, whose batches are the largest, posts at most about
// 768 KiB at once.
const MaxBodyBytes = 1 << 20

// rememberEvents is how many event ids a handler keeps to drop an event
// told twice. Beyond them the oldest is forgotten: Recorder records a
// bounce told twice once anyway, so this only spares the store.
const rememberEvents = 10_000

// rememberTokens is how many Mailgun tokens of the replay window a
// handler keeps; when that many are live it answers 503 rather than
// forget one, which would let its request be replayed.
const rememberTokens = 100_000

// readBody reads r's body, at most MaxBodyBytes of it, after checking the
// method. It answers the request itself and returns false when there is
// nothing to verify.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
		http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
		return nil, false
	}
	if err != nil {
		http.Error(w, "reading the body failed", http.StatusBadRequest)
		return nil, false
	}
	return body, true
}

// event is one provider event: its id and the notices it makes, none for
// an event the Sink does not hear about (a transient bounce, a delivery).
type event struct {
	id      string
	notices []Notice
}

// deliver passes the events' notices to sink, each event once, and
// answers 200, or 503 when sink fails (and returns false): the provider
// sends the request again, and the events before the failed one are then
// skipped.
func deliver(w http.ResponseWriter, r *http.Request, sink Sink, seen *recent, events []event) bool {
	for _, e := range events {
		if len(e.notices) == 0 {
			continue
		}
		if e.id != "" && seen.claim(e.id, time.Time{}) != claimed {
			continue
		}
		for _, n := range e.notices {
			if err := sink.Bounce(r.Context(), n); err != nil {
				if e.id != "" {
					seen.release(e.id)
				}
				http.Error(w, "recording the event failed; send it again later", http.StatusServiceUnavailable)
				return false
			}
		}
	}
	w.WriteHeader(http.StatusOK)
	return true
}

// claim is what recent.claim found.
type claim int

const (
	claimed claim = iota // the key is new and now held
	known                // the key is held already: a duplicate or replay
	full                 // the key is new but no room is left
)

// recent remembers keys for a while, bounded: event ids a handler has
// taken, or Mailgun tokens within their replay window. A key is claimed
// before its request is acted on, so a concurrent duplicate is refused,
// and released when acting failed, so the provider's retry gets through.
type recent struct {
	mu    sync.Mutex
	ttl   time.Duration // how long a key is kept; 0: until evicted
	max   int
	evict bool // forget the oldest when full, rather than refuse
	keys  map[string]uint64
	order []recentKey // oldest first, so expiring first
	seq   uint64
}

type recentKey struct {
	key     string
	seq     uint64
	expires time.Time
}

func newRecent(ttl time.Duration, max int, evict bool) *recent {
	return &recent{ttl: ttl, max: max, evict: evict, keys: make(map[string]uint64)}
}

// claim holds key, at now, unless it is held already.
func (c *recent) claim(key string, now time.Time) claim {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.drop(func(k recentKey) bool { return c.ttl > 0 && !now.Before(k.expires) })
	if _, ok := c.keys[key]; ok {
		return known
	}
	if len(c.keys) >= c.max {
		if !c.evict {
			return full
		}
		c.drop(func(recentKey) bool { return len(c.keys) >= c.max })
	}
	c.seq++
	c.keys[key] = c.seq
	c.order = append(c.order, recentKey{key: key, seq: c.seq, expires: now.Add(c.ttl)})
	return claimed
}

// release forgets key.
func (c *recent) release(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.keys, key)
}

// drop forgets keys from the oldest on while gone says so, and passes
// over the entries of keys released (or released and claimed again) since.
func (c *recent) drop(gone func(recentKey) bool) {
	n := 0
	for ; n < len(c.order); n++ {
		k := c.order[n]
		if seq, ok := c.keys[k.key]; ok && seq == k.seq {
			if !gone(k) {
				break
			}
			delete(c.keys, k.key)
		}
	}
	c.order = c.order[n:]
}
