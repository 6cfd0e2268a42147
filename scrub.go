package invites

import (
	"cmp"
	"regexp"
	"slices"
	"strings"

	"github.com/invitekit/invites/token"
	"golang.org/x/net/idna"
)

// Scrubbing a send's error: the token and every form of the recipient's
// address taken out of its text before it is logged, stored or observed.

// redactedAddress stands in an error's text for the recipient's address.
const redactedAddress = "[recipient]"

// scrubbed is an error whose text had the token and the recipient taken
// out; errors.Is still sees the original, so ErrPermanent keeps its
// meaning.
type scrubbed struct {
	err  error
	text string
}

func (e scrubbed) Error() string { return e.text }
func (e scrubbed) Unwrap() error { return e.err }

// scrub returns err with tok and the address email taken out of its
// text: a mailer or server may echo the message, or its recipient (550
// 5.1.1 <a@b.c>: unknown user), and neither goes further. The text is
// what the worker logs, keeps as the invite's DeliveryError and hands the
// Observer, so no copy of an address outlives Forget there.
func scrub(err error, tok Token, email string) error {
	if err == nil {
		return nil
	}
	text := strings.ReplaceAll(err.Error(), tok.Reveal(), token.Redacted)
	if re := addressForms(email); re != nil {
		text = re.ReplaceAllLiteralString(text, redactedAddress)
	}
	return scrubbed{err, text}
}

// addressForms matches, ignoring case (Unicode simple folding), the
// forms a server may echo email in: as stored, as NormalizeEmail writes
// it, and with its domain in A-labels (as sent without SMTPUTF8) or
// U-labels, under both today's IDNA profile and plain Punycode (which
// also decodes what the profile refuses). Nil for no address.
func addressForms(email string) *regexp.Regexp {
	e := strings.TrimSpace(email)
	if e == "" {
		return nil
	}
	forms := []string{e, NormalizeEmail(e)}
	if at := strings.LastIndexByte(e, '@'); at >= 0 {
		local, domain := e[:at], e[at+1:]
		for _, conv := range []func(string) (string, error){domains.ToASCII, domains.ToUnicode, idna.Punycode.ToASCII, idna.Punycode.ToUnicode} {
			if d, err := conv(domain); err == nil {
				forms = append(forms, local+"@"+d)
			}
		}
	}
	// Longest first, so no form is cut short by one it begins with.
	slices.SortFunc(forms, func(a, b string) int { return cmp.Or(cmp.Compare(len(b), len(a)), strings.Compare(a, b)) })
	forms = slices.Compact(forms)
	for i, f := range forms {
		forms[i] = regexp.QuoteMeta(f)
	}
	return regexp.MustCompile("(?i)" + strings.Join(forms, "|"))
}
