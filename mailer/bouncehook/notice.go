package bouncehook

import (
	"context"
	"errors"
	"time"

	"github.com/invitekit/invites"
)

// Kind says what a provider reported about an address.
type Kind string

// The kinds a handler passes on; transient bounces are never passed on.
const (
	// KindBounce is a permanent bounce: the address does not take mail.
	KindBounce Kind = "bounce"
	// KindComplaint is a spam complaint by the recipient.
	KindComplaint Kind = "complaint"
)

// Provider names for Notice.Provider.
const (
	ProviderSES      = "ses"
	ProviderPostmark = "postmark"
	ProviderSendGrid = "sendgrid"
	ProviderMailgun  = "mailgun"
)

// Notice is one permanent bounce or complaint, for one address, as a
// verified webhook reported it.
type Notice struct {
	Provider string // one of the Provider names
	Kind     Kind
	// Address is the recipient the provider names.
	Address string
	// MessageID is the email's Message-ID as the provider reports it, with
	// or without angle brackets; "" when it reports none.
	MessageID string
	// EventID is the provider's id of the event, by which a handler drops
	// the event told twice.
	EventID string
	// Reason is the provider's or the receiving server's words.
	Reason string
	// At is when the provider says it happened; zero when it says not.
	At time.Time
}

// Sink takes the notices a handler passes on. A nil error acknowledges
// the notice for good, so return nil for one that will never succeed
// (an email the host does not know); any error answers the provider 503,
// and it sends the event again later. A handler may call Bounce
// concurrently.
type Sink interface {
	Bounce(ctx context.Context, n Notice) error
}

// Recorder is the Sink that records notices on an invites.Service: a
// bounce with Service.RecordBounce, as a hard bounce (which suppresses
// the address for the email's tenant), and a complaint with
// Service.RecordComplaint (which suppresses it for every tenant, and
// leaves the delivery as sent: the email arrived). The Service takes the
// Message-ID only when it is of its mailer's domain
// (invites.MessageIDDomainer), so the email must reach the provider's
// webhook with the Message-ID the mailer gave it: see the package doc
// for each provider's setting.
type Recorder struct {
	Service *invites.Service
	// TenantID, when set, records with RecordTenantBounce and
	// RecordTenantComplaint: a webhook per tenant cannot fail, nor
	// suppress, another tenant's email.
	TenantID string
	// Dropped, when set, hears each notice acknowledged without effect:
	// a Message-ID no delivery has (invites.ErrNotFound) or that the
	// Service does not take (invites.ErrInvalidInput, another domain or
	// the provider's own id). A provider would send these forever if
	// refused, so Bounce returns nil for them; this is where a host logs
	// them.
	Dropped func(n Notice, err error)
}

// Bounce records n; see Recorder.
func (r Recorder) Bounce(ctx context.Context, n Notice) error {
	var err error
	switch reason := firstOf(n.Reason, "no reason given") + " (" + n.Provider + ")"; {
	case n.Kind == KindComplaint && r.TenantID != "":
		err = r.Service.RecordTenantComplaint(ctx, r.TenantID, n.MessageID, reason)
	case n.Kind == KindComplaint:
		err = r.Service.RecordComplaint(ctx, n.MessageID, reason)
	case r.TenantID != "":
		err = r.Service.RecordTenantBounce(ctx, r.TenantID, n.MessageID, true, reason)
	default:
		err = r.Service.RecordBounce(ctx, n.MessageID, true, reason)
	}
	if errors.Is(err, invites.ErrNotFound) || errors.Is(err, invites.ErrInvalidInput) {
		if r.Dropped != nil {
			r.Dropped(n, err)
		}
		return nil
	}
	return err
}
