package invites

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Names: the checks of person names, ids and roles, with what Unicode may
// hide in them (hiddenInName, joinerAllowed) and the names that read as
// links (looksLikeLink).

const (
	zwnj = '\u200c' // ZERO WIDTH NON-JOINER
	zwj  = '\u200d' // ZERO WIDTH JOINER
)

// validName checks a name, id or role: valid UTF-8, at most MaxNameRunes
// characters, nothing hidden (hiddenInName) but joiners where RFC 5892's
// CONTEXTJ rule allows them (joinerAllowed).
func validName(field, s string) error {
	if !utf8.ValidString(s) {
		return invalid(field, "is not valid UTF-8")
	}
	if utf8.RuneCountInString(s) > MaxNameRunes {
		return invalid(field, "is longer than %d characters", MaxNameRunes)
	}
	for i, r := range s {
		if (r == zwnj || r == zwj) && joinerAllowed(s, i) {
			continue
		}
		if hiddenInName(r) {
			return invalid(field, "contains a control, format (bidi or zero-width) or line separator character")
		}
	}
	return nil
}

// validPersonName checks a first or last name, which the email prints:
// validName's rule, and no link (looksLikeLink).
func validPersonName(field, s string) error {
	if err := validName(field, s); err != nil {
		return err
	}
	if looksLikeLink(s) {
		return invalid(field, "contains a URL or a domain name")
	}
	return nil
}

// CheckName applies the rule of NewInvite.FirstName and LastName to text
// a host prints in an email beside them (the mailer checks
// mailer.Extra's TenantName and InviterName with it): at most
// MaxNameRunes characters, no control, format or line separator character
// (bar joiners where RFC 5892 allows them), no URL and no domain name. Its
// error wraps ErrInvalidInput.
func CheckName(field, s string) error { return validPersonName(field, s) }

// hiddenInName reports the characters that no name, id or role may hold:
// controls; format characters (Unicode Cf: the bidi overrides, isolates
// and marks U+202A-202E, U+2066-2069, U+200E, U+200F and U+061C, the
// zero-width U+200B-200D, U+2060 and U+FEFF, soft hyphens, tags), which
// are invisible and can reorder or disguise the text around them on a
// page; and the line and paragraph separators U+2028 and U+2029.
func hiddenInName(r rune) bool {
	return unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp)
}

// joinerAllowed reports whether the ZWJ or ZWNJ at s[i] stands where RFC
// 5892's CONTEXTJ rules (appendix A.1 and A.2) allow it, as Persian and
// Indic names need: either after a virama (canonical combining class 9),
// or, for ZWNJ only, between a letter that joins on its left (joining
// type L or D) and one that joins on its right (R or D), with only
// transparent characters (T, such as vowel marks) between them and it.
func joinerAllowed(s string, i int) bool {
	before, _ := utf8.DecodeLastRuneInString(s[:i])
	if i > 0 && norm.NFC.PropertiesString(string(before)).CCC() == 9 {
		return true
	}
	if r, _ := utf8.DecodeRuneInString(s[i:]); r != zwnj {
		return false
	}
	left := strings.TrimRightFunc(s[:i], func(r rune) bool { return unicode.Is(joiningT, r) })
	l, _ := utf8.DecodeLastRuneInString(left)
	right := strings.TrimLeftFunc(s[i+utf8.RuneLen(zwnj):], func(r rune) bool { return unicode.Is(joiningT, r) })
	r, _ := utf8.DecodeRuneInString(right)
	return left != "" && unicode.In(l, joiningL, joiningD) && right != "" && unicode.In(r, joiningR, joiningD)
}

// looksLikeLink reports whether a name holds what a mail client may show
// as a link in the plain-text part: "://", a dotted IPv4 address, or a
// domain name, that is a label, a dot and a label of two characters or
// more that starts with a letter (evil.example, www.bank, пример.рф), the
// dot being any IDNA treats as one. Initials (J.R.R.) and a dot followed by
// a space (Dr. Lee) pass.
func looksLikeLink(s string) bool {
	if strings.Contains(s, "://") {
		return true
	}
	for _, run := range strings.FieldsFunc(s, func(r rune) bool { return !inHostname(r) }) {
		labels := strings.FieldsFunc(run, isDot)
		if len(labels) >= 4 && allDigits(labels) {
			return true
		}
		for k, label := range labels {
			first, _ := utf8.DecodeRuneInString(label)
			if k > 0 && utf8.RuneCountInString(label) >= 2 && unicode.IsLetter(first) {
				return true
			}
		}
	}
	return false
}

// isDot reports the full stops IDNA maps to ".".
func isDot(r rune) bool { return r == '.' || r == '\u3002' || r == '\uff0e' || r == '\uff61' }

func inHostname(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r) || r == '-' || r == '_' || isDot(r)
}

func allDigits(labels []string) bool {
	for _, l := range labels {
		if strings.TrimFunc(l, func(r rune) bool { return '0' <= r && r <= '9' }) != "" {
			return false
		}
	}
	return true
}
