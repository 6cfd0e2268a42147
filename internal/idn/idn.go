// Package idn holds the IDNA profile by which the invites package stores
// the domain of an address and the mailer writes it in A-labels, so the
// two never disagree on a name.
package idn

import "golang.org/x/net/idna"

// Profile converts the domain of an address. It is the IDNA2008 lookup
// profile (RFC 5891 section 5, with UTS #46's non-transitional mapping):
// a domain is typed by people, so case, width and NFC variants of one name
// must map to it (BÜCHER.de, bücher.de and xn--bcher-kva.de are one
// domain, as a resolver sees them), and the mapping's result must then pass
// what registration demands: valid IDNA2008 labels (CheckHyphens,
// CheckJoiners), letters, digits and hyphens only (StrictDomainName), the
// Bidi rule, and DNS lengths (VerifyDNSLength: labels of at most 63
// octets, a name of at most 253, no empty label). The Registration profile
// would refuse the uppercase and A-label input people paste, and
// transitional mapping would turn ß into ss, another domain under
// IDNA2008.
var Profile = idna.New(idna.MapForLookup(), idna.BidiRule(), idna.VerifyDNSLength(true), idna.Transitional(false))
