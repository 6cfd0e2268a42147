package invites

import (
	"bytes"
	"encoding/json"
	"net/mail"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/language"
)

// Limits on input, checked at the edge so nothing oversized is stored.
const (
	MaxEmailBytes = 254
	MaxNameRunes  = 200
	MaxDataBytes  = 16 << 10
	MaxRoles      = 50
	MaxRoleBytes  = 100
	MaxIDBytes    = 255 // tenant and user ids
	MaxSearch     = 200
)

func validEmail(email string) (string, error) {
	e := strings.TrimSpace(email)
	switch {
	case e == "":
		return "", invalid("email", "is empty")
	case len(e) > MaxEmailBytes:
		return "", invalid("email", "is longer than %d bytes", MaxEmailBytes)
	case strings.ContainsAny(e, "\r\n"):
		return "", invalid("email", "contains a line break")
	}
	a, err := mail.ParseAddress(e)
	if err != nil || a.Name != "" || a.Address != e {
		return "", invalid("email", "is not a bare email address")
	}
	return e, nil
}

func validName(field, s string) error {
	if !utf8.ValidString(s) {
		return invalid(field, "is not valid UTF-8")
	}
	if utf8.RuneCountInString(s) > MaxNameRunes {
		return invalid(field, "is longer than %d characters", MaxNameRunes)
	}
	if strings.IndexFunc(s, unicode.IsControl) >= 0 {
		return invalid(field, "contains a control character")
	}
	return nil
}

// validID checks an id of the host (tenant, user): present, bounded, printable.
func validID(field, s string) error {
	if s == "" {
		return invalid(field, "is empty")
	}
	if len(s) > MaxIDBytes {
		return invalid(field, "is longer than %d bytes", MaxIDBytes)
	}
	return validName(field, s)
}

func parseLocale(s string) (string, error) {
	if len(s) > 64 {
		return "", invalid("locale", "is too long")
	}
	tag, err := language.Parse(s)
	if err != nil {
		return "", invalid("locale", "is not a BCP 47 tag")
	}
	return tag.String(), nil
}

// validData returns the object compacted, or nil for none (empty or null).
func validData(d json.RawMessage) (json.RawMessage, error) {
	t := bytes.TrimSpace(d)
	if len(t) == 0 || string(t) == "null" {
		return nil, nil
	}
	if len(d) > MaxDataBytes {
		return nil, invalid("data", "is larger than %d bytes", MaxDataBytes)
	}
	if t[0] != '{' || !json.Valid(t) {
		return nil, invalid("data", "is not a JSON object")
	}
	// PostgreSQL's jsonb, like its text, holds neither: refuse them here
	// rather than fail in the store.
	if !utf8.Valid(t) {
		return nil, invalid("data", "is not valid UTF-8")
	}
	var v any
	if err := json.Unmarshal(t, &v); err != nil || hasNUL(v) {
		return nil, invalid("data", "contains a NUL character")
	}
	var b bytes.Buffer
	if err := json.Compact(&b, t); err != nil {
		return nil, invalid("data", "is not a JSON object")
	}
	return b.Bytes(), nil
}

// hasNUL reports whether a decoded JSON value has a NUL in a key or string.
func hasNUL(v any) bool {
	switch v := v.(type) {
	case string:
		return strings.ContainsRune(v, 0)
	case []any:
		return slices.ContainsFunc(v, hasNUL)
	case map[string]any:
		for k, e := range v {
			if strings.ContainsRune(k, 0) || hasNUL(e) {
				return true
			}
		}
	}
	return false
}

// validText checks a filter of a list: bounded, valid UTF-8, no control
// characters (which no stored value has, and SQL text cannot hold).
func validText(field, s string, maxRunes int) error {
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > maxRunes || strings.IndexFunc(s, unicode.IsControl) >= 0 {
		return invalid(field, "must be text of at most %d characters, without control characters", maxRunes)
	}
	return nil
}

// validRoles returns roles without repeats, in their first order.
func validRoles(roles []string) ([]string, error) {
	if len(roles) > MaxRoles {
		return nil, invalid("roles", "has more than %d items", MaxRoles)
	}
	out := make([]string, 0, len(roles))
	for _, r := range roles {
		if r == "" || len(r) > MaxRoleBytes {
			return nil, invalid("roles", "has an empty role or one over %d bytes", MaxRoleBytes)
		}
		if err := validName("roles", r); err != nil {
			return nil, err
		}
		if !slices.Contains(out, r) { // at most MaxRoles: cheaper than a map
			out = append(out, r)
		}
	}
	return out, nil
}

func validActor(a Actor) error {
	if err := validID("actor.userId", a.UserID); err != nil {
		return err
	}
	return validID("actor.tenantId", a.TenantID)
}
