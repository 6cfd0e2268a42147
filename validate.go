package invites

import (
	"bytes"
	"encoding/json"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"golang.org/x/text/language"
)

// Limits on input, checked at the edge so nothing oversized is stored.
// MaxEmailBytes is RFC 5321's limit on an address (NewInvite.Email has the
// rest of the rule); MaxDataBytes and MaxDataDepth bound NewInvite.Data
// and Update.Data, the data object itself being at depth 1.
const (
	MaxEmailBytes = 254
	MaxNameRunes  = 200
	MaxDataBytes  = 16 << 10
	MaxDataDepth  = 32
	MaxRoles      = 50
	MaxRoleBytes  = 100
	MaxIDBytes    = 255 // tenant and user ids
	MaxSearch     = 200
	// MaxBounceReasonBytes bounds RecordBounce's reason: a longer one is
	// cut at a character's edge.
	MaxBounceReasonBytes = 1000
)

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
// Beyond valid JSON it refuses what some store cannot hold, so every store
// keeps the same data: invalid UTF-8, NUL characters (\u0000) and lone
// UTF-16 surrogate escapes (\ud800 without its pair), which PostgreSQL's
// jsonb and text refuse while encoding/json turns the last into U+FFFD;
// arrays or objects nested more than MaxDataDepth deep; numbers a
// float64 cannot hold (as JavaScript reads them too); and an object with
// a member name twice, which PostgreSQL's jsonb keeps the last of while
// SQLite and memstore keep the text.
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
	if !utf8.Valid(t) {
		return nil, invalid("data", "is not valid UTF-8")
	}
	if err := scanData(t); err != nil {
		return nil, err
	}
	if err := uniqueKeys(t); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := json.Compact(&b, t); err != nil {
		return nil, invalid("data", "is not a JSON object")
	}
	return b.Bytes(), nil
}

// scanData walks valid JSON once, tracking only strings, their escapes and
// brackets, and refuses nesting deeper than MaxDataDepth and \u escapes
// of NUL or of a surrogate that is not a high one followed at once by a
// low one. Keys are strings too, so they are checked alike.
func scanData(t []byte) error {
	depth, inString := 0, false
	for i := 0; i < len(t); i++ {
		switch c := t[i]; {
		case !inString:
			switch c {
			case '"':
				inString = true
			case '{', '[':
				if depth++; depth > MaxDataDepth {
					return invalid("data", "nests arrays and objects more than %d deep", MaxDataDepth)
				}
			case '}', ']':
				depth--
			case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
				n := i + 1
				for n < len(t) && bytes.IndexByte([]byte("0123456789+-.eE"), t[n]) >= 0 {
					n++
				}
				if !finiteNumber(t[i:n]) {
					return invalid("data", "has a number beyond the range of a 64-bit float")
				}
				i = n - 1
			}
		case c == '"':
			inString = false
		case c == '\\':
			i++ // the escaped byte: \" does not end the string
			r, ok := escapedRune(t, i)
			if !ok {
				continue
			}
			i += 4
			switch {
			case r == 0:
				return invalid("data", "contains a NUL character")
			case utf16.IsSurrogate(r):
				if lo, ok := escapedRune(t, i+2); r < 0xdc00 && ok && t[i+1] == '\\' && 0xdc00 <= lo && lo <= 0xdfff {
					i += 6
					continue
				}
				return invalid("data", "contains a lone UTF-16 surrogate escape")
			}
		}
	}
	return nil
}

// uniqueKeys refuses valid JSON that names a member of an object twice,
// the names compared unescaped ("a" and "\u0061" are one), as jsonb does.
func uniqueKeys(t []byte) error {
	type frame struct {
		keys map[string]bool // nil in an array
		key  bool            // the object's next token is a name or its end
	}
	dec := json.NewDecoder(bytes.NewReader(t))
	dec.UseNumber()
	var stack []frame
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return invalid("data", "is not a JSON object")
		}
		if n := len(stack); n > 0 && stack[n-1].key {
			if name, ok := tok.(string); ok {
				if stack[n-1].keys[name] {
					return invalid("data", "names a member twice in one object")
				}
				stack[n-1].keys[name], stack[n-1].key = true, false
				continue
			}
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, frame{keys: map[string]bool{}, key: true})
			continue
		case json.Delim('['):
			stack = append(stack, frame{})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		if n := len(stack); n > 0 && stack[n-1].keys != nil {
			stack[n-1].key = true // a value ended: a name or the end comes next
		}
	}
}

// finiteNumber reports whether a JSON number is a float64 short of
// overflow and, unless it is zero, of underflow: PostgreSQL's jsonb
// refuses numbers past its numeric's range (1e999999) and would write out
// one within it (1e131071) as 131,072 digits on every read.
func finiteNumber(num []byte) bool {
	f, err := strconv.ParseFloat(string(num), 64)
	if err != nil {
		return false
	}
	if f == 0 {
		mant, _, _ := bytes.Cut(bytes.ToLower(num), []byte("e"))
		return bytes.Trim(mant, "-0.") == nil || len(bytes.Trim(mant, "-0.")) == 0
	}
	return true
}

// escapedRune returns the rune of the \uXXXX escape whose u is at t[i],
// and whether there is one.
func escapedRune(t []byte, i int) (rune, bool) {
	if i+4 >= len(t) || t[i] != 'u' {
		return 0, false
	}
	var r rune
	for _, c := range t[i+1 : i+5] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
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
