package httpadapter

import (
	"net/http"
	"strings"

	"github.com/invitekit/invites"
)

// IdempotencyKeyHeader is the request header of a client's idempotency
// key (the IETF httpapi draft "The Idempotency-Key HTTP Header Field"),
// which every route that writes honours: a retry with the same key and
// the same body within Config.IdempotencyTTL of the Service gets the first
// answer, status and body, and writes nothing; the same key with another
// body is a 422 idempotency_key_reused. See invites.WithIdempotencyKey.
const IdempotencyKeyHeader = "Idempotency-Key"

// keyed returns f with the request's Idempotency-Key, if any, handed to
// the Service through the context.
func keyed(f endpoint) endpoint {
	return func(w http.ResponseWriter, r *http.Request) (any, error) {
		vs := r.Header.Values(IdempotencyKeyHeader)
		if len(vs) == 0 {
			return f(w, r)
		}
		if len(vs) > 1 {
			return nil, badKey("Idempotency-Key must be sent once.")
		}
		key, err := parseKey(vs[0])
		if err != nil {
			return nil, err
		}
		return f(w, r.WithContext(invites.WithIdempotencyKey(r.Context(), key)))
	}
}

func badKey(detail string) error {
	return problem(http.StatusBadRequest, CodeInvalidRequest, IdempotencyKeyHeader, detail)
}

// parseKey reads a header value: a String of RFC 8941 ("…", with \" and
// \\ escapes), as the draft asks, or for clients written before it a bare
// value taken as it is. The key is 1 to invites.MaxIdempotencyKeyBytes
// printable ASCII characters; the value is bounded before it is read.
func parseKey(v string) (string, error) {
	const bad = "Idempotency-Key must be a quoted string of 1 to 255 printable ASCII characters."
	if len(v) > 2*invites.MaxIdempotencyKeyBytes+2 {
		return "", badKey(bad)
	}
	key := v
	if strings.HasPrefix(v, `"`) {
		var b strings.Builder
		closed := false
		for i := 1; i < len(v) && !closed; i++ {
			switch c := v[i]; {
			case c == '"':
				closed = i == len(v)-1
				if !closed {
					return "", badKey(bad)
				}
			case c == '\\' && i+1 < len(v) && (v[i+1] == '"' || v[i+1] == '\\'):
				i++
				b.WriteByte(v[i])
			case c == '\\':
				return "", badKey(bad)
			default:
				b.WriteByte(c)
			}
		}
		if !closed {
			return "", badKey(bad)
		}
		key = b.String()
	}
	if key == "" || len(key) > invites.MaxIdempotencyKeyBytes {
		return "", badKey(bad)
	}
	for i := 0; i < len(key); i++ {
		if key[i] < 0x20 || key[i] > 0x7e {
			return "", badKey(bad)
		}
	}
	return key, nil
}
