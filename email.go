package invites

import (
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/invitekit/invites/internal/idn"
	"golang.org/x/text/unicode/norm"
)

// Email addresses: NormalizeEmail, the one definition of the same address,
// and the checks an address passes before it is stored (validEmail) or
// looked up (anyEmail).

// MaxLocalPartBytes is RFC 5321's limit on the part of an address before
// the @.
const MaxLocalPartBytes = 64

// domains converts the domain of an address: the profile the mailer
// writes A-labels by too.
var domains = idn.Profile

// validEmail returns the address as stored: the local part as given, the
// domain in its canonical form (canonicalDomain). An address must be bare
// (no display name, comment or line break, as net/mail parses it); its
// local part at most MaxLocalPartBytes octets, in NFKC (so no Kelvin sign,
// fullwidth letter or decomposed accent stands for another character);
// its domain a name of at least two labels that passes IDNA2008, not
// localhost, not an IP address or literal; the whole at most MaxEmailBytes
// octets as given, as stored and with an A-label domain; and nowhere a
// character of hiddenInEmail.
func validEmail(email string) (string, error) {
	e, err := bareEmail(email, func(e string) error {
		switch {
		case strings.ContainsAny(e, "\r\n"):
			return badEmail("contains a line break")
		case strings.IndexFunc(e, hiddenInEmail) >= 0:
			return badEmail("contains a control, format (bidi or zero-width), replacement or non-ASCII space character")
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	at := strings.LastIndexByte(e, '@')
	local, domain := e[:at], e[at+1:]
	if len(local) > MaxLocalPartBytes {
		return "", badEmail("has a local part longer than %d bytes", MaxLocalPartBytes)
	}
	if !norm.NFKC.IsNormalString(local) {
		return "", badEmail("has a local part not in Unicode NFKC (such as a fullwidth letter, the Kelvin sign or a decomposed accent)")
	}
	uni, ascii, err := canonicalDomain(domain)
	if err != nil {
		return "", err
	}
	stored := local + "@" + uni
	if len(stored) > MaxEmailBytes || len(local)+1+len(ascii) > MaxEmailBytes {
		return "", badEmail("is longer than %d bytes", MaxEmailBytes)
	}
	return stored, nil
}

// badEmail refuses an address, every time in the same words: "email is
// not a valid email address: it", then why.
func badEmail(format string, args ...any) error {
	return invalid("email", "is not a valid email address: it "+format, args...)
}

// anyEmail checks an address to look up rather than store: a bare
// address as net/mail parses it, bounded and printable, which every
// version of validEmail has demanded at least. Stricter rules came
// later, and an invite stored before them must stay within reach.
func anyEmail(email string) (string, error) {
	return bareEmail(email, func(e string) error {
		if strings.IndexFunc(e, unicode.IsControl) >= 0 {
			return badEmail("contains a control character")
		}
		return nil
	})
}

// bareEmail trims email and checks what every address needs: not empty,
// at most MaxEmailBytes of UTF-8, then chars' own rule on its characters,
// then a bare address as net/mail parses it.
func bareEmail(email string, chars func(string) error) (string, error) {
	e := strings.TrimSpace(email)
	switch {
	case e == "":
		return "", badEmail("is empty")
	case len(e) > MaxEmailBytes:
		return "", badEmail("is longer than %d bytes", MaxEmailBytes)
	case !utf8.ValidString(e):
		return "", badEmail("is not valid UTF-8")
	}
	if err := chars(e); err != nil {
		return "", err
	}
	if a, err := mail.ParseAddress(e); err != nil || a.Name != "" || a.Address != e {
		return "", badEmail("must be a bare address, such as ann@example.com, with no name, comment or angle brackets")
	}
	return e, nil
}

// canonicalDomain returns the domain's U-label form, as stored and
// compared, and its A-label form, as DNS and SMTP without SMTPUTF8 carry
// it. The stored form is the Unicode one, lower-cased by the mapping: it
// is what people typed and read (a list shows bücher.de, and Search finds
// it), while the A-label is one call away (idna.ToASCII) for a Mailer
// whose server lacks SMTPUTF8.
func canonicalDomain(domain string) (uni, ascii string, err error) {
	switch {
	case strings.HasPrefix(domain, "["):
		return "", "", badEmail("has an IP address literal for a domain")
	case strings.IndexFunc(domain, hiddenInEmail) >= 0:
		// IDNA's mapping would drop some (U+200B, U+00AD): refuse rather
		// than let an invisible character stand for nothing.
		return "", "", badEmail("contains a control, format (bidi or zero-width), replacement or non-ASCII space character")
	}
	ascii, err = domains.ToASCII(domain)
	if err != nil {
		return "", "", badEmail("has a domain that is not a valid IDNA2008 name")
	}
	if uni, err = domains.ToUnicode(ascii); err != nil {
		return "", "", badEmail("has a domain that is not a valid IDNA2008 name")
	}
	dot := strings.LastIndexByte(ascii, '.')
	switch tld := ascii[dot+1:]; {
	case dot < 0:
		return "", "", badEmail("has a domain of one label (such as localhost)")
	case tld == "localhost":
		return "", "", badEmail("has a localhost domain")
	case strings.Trim(tld, "0123456789") == "":
		// No top-level domain is all digits (RFC 3696 section 2), and
		// "1.2.3.4" would be read as an IP address by some resolvers.
		return "", "", badEmail("has an IP address for a domain")
	}
	return uni, ascii, nil
}

// hiddenInEmail reports whether r is a character no address may hold:
// those of hiddenInName, every space but U+0020 (which only a quoted local
// part may hold), and U+FFFD, which stands for text that did not decode
// (JSON's "\ud800" arrives as it), so that two different bad inputs are
// not one address.
func hiddenInEmail(r rune) bool {
	return hiddenInName(r) || r == utf8.RuneError || r != ' ' && unicode.IsSpace(r)
}

// asciiLower returns s with its ASCII letters lower-cased and every other
// byte left alone.
func asciiLower(s string) string {
	i := strings.IndexFunc(s, func(r rune) bool { return 'A' <= r && r <= 'Z' })
	if i < 0 {
		return s
	}
	b := []byte(s)
	for ; i < len(b); i++ {
		if 'A' <= b[i] && b[i] <= 'Z' {
			b[i] += 'a' - 'A'
		}
	}
	return string(b)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// NormalizeEmail is the one definition of "the same address", used for
// uniqueness, Query.Email, the email filter and Config.RequireEmailMatch,
// in Go so every store agrees byte for byte. Two addresses are the same
// when they are equal after:
//
//   - trimming surrounding white space;
//   - lower-casing the ASCII letters A-Z of the local part, and nothing
//     else in it: RFC 5321 lets a local part be case-sensitive but calls
//     relying on it an interoperability problem, so hosts treat ASCII case
//     as one mailbox; Unicode case mappings are not that safe (the Kelvin
//     sign lower-cases to k, İ to i), so a non-ASCII character compares
//     only with itself;
//   - mapping the domain to its canonical U-label form (lower-cased,
//     A-labels decoded, IDNA2008 lookup mapping), which DNS resolves
//     alike; a domain that is not a valid name folds its ASCII letters
//     only.
//
// The rule never makes two different mailboxes equal: at worst two
// spellings of one mailbox (Émile@ and émile@) stay two addresses, two
// invites rather than one invite accepted by the wrong user. So under
// RequireEmailMatch an acceptor with \u212Aate@x.io (Kelvin sign) is not
// kate@x.io. Send stores only addresses validEmail accepts, whose local
// part is NFKC, so such look-alikes are refused there.
func NormalizeEmail(email string) string {
	e := strings.TrimSpace(email)
	at := strings.LastIndexByte(e, '@')
	if at < 0 {
		return asciiLower(e)
	}
	domain := asciiLower(e[at+1:])
	// An ASCII domain without A-labels maps to itself lower-cased, valid
	// or not: only the others need IDNA (which memstore's lists would
	// otherwise pay for on every row).
	if !isASCII(domain) || strings.Contains(domain, "xn--") {
		if uni, _, err := canonicalDomain(e[at+1:]); err == nil {
			domain = uni
		}
	}
	return asciiLower(e[:at]) + "@" + domain
}
