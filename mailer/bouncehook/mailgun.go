package bouncehook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"time"
)

// MailgunConfig sets up the handler for Mailgun's webhooks. Sink and
// SigningKey are required.
type MailgunConfig struct {
	Sink Sink
	// SigningKey is the account's HTTP webhook signing key.
	SigningKey string
	// Window refuses a request whose signed timestamp is further than
	// this from now; its token is kept as long, to refuse it again.
	// Default 5 minutes.
	Window time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Mailgun is the http.Handler for Mailgun's webhooks (the JSON ones, with
// "signature" and "event-data"). It verifies the HMAC-SHA256 of the
// signature's timestamp and token, refuses a timestamp out of the window
// and a token seen within it, and only then reads the event: failed with
// severity permanent and complained become a Notice, others are
// acknowledged unheard. An event id is taken once. The Notice's
// MessageID is the email's message-id header as Mailgun reports it.
//
// Mailgun signs the timestamp and token only, not the event: refusing a
// token used once is what keeps a captured signature from carrying
// another event.
type Mailgun struct {
	cfg    MailgunConfig
	tokens *recent
	seen   *recent
}

// NewMailgun returns the Mailgun handler.
func NewMailgun(cfg MailgunConfig) (*Mailgun, error) {
	if cfg.Sink == nil {
		return nil, errors.New("bouncehook: MailgunConfig.Sink is required")
	}
	if cfg.SigningKey == "" {
		return nil, errors.New("bouncehook: MailgunConfig.SigningKey is required")
	}
	if cfg.Window <= 0 {
		cfg.Window = 5 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Mailgun{
		cfg: cfg,
		// A timestamp may be Window ahead of now: its token must be kept
		// until it is Window behind.
		tokens: newRecent(2*cfg.Window, rememberTokens, false),
		seen:   newRecent(0, rememberEvents, true),
	}, nil
}

// mailgunBody is a webhook's body: the event is read only once the
// signature holds.
type mailgunBody struct {
	Signature struct {
		Timestamp string `json:"timestamp"`
		Token     string `json:"token"`
		Signature string `json:"signature"`
	} `json:"signature"`
	EventData json.RawMessage `json:"event-data"`
}

// mailgunEvent is the part of event-data read.
type mailgunEvent struct {
	ID        string  `json:"id"`
	Event     string  `json:"event"`
	Timestamp float64 `json:"timestamp"`
	Severity  string  `json:"severity"`
	Reason    string  `json:"reason"`
	Recipient string  `json:"recipient"`
	Message   struct {
		Headers struct {
			MessageID string `json:"message-id"`
		} `json:"headers"`
	} `json:"message"`
	DeliveryStatus struct {
		Message     string `json:"message"`
		Description string `json:"description"`
	} `json:"delivery-status"`
}

// ServeHTTP answers 200 for an event taken or ignored, 403 when the
// signature is wrong, out of the window or its token used already, 406
// for a body with no signature or event (Mailgun does not retry a 406),
// 413 beyond MaxBodyBytes, and 503 when the Sink failed or too many
// tokens are live to keep another: Mailgun retries those.
func (h *Mailgun) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	var b mailgunBody
	if err := json.Unmarshal(body, &b); err != nil || b.Signature.Token == "" {
		http.Error(w, "not a Mailgun webhook", http.StatusNotAcceptable)
		return
	}
	if err := h.verify(b); err != nil {
		http.Error(w, err.Error(), http.StatusForbidden)
		return
	}
	switch h.tokens.claim(b.Signature.Token, h.cfg.Now()) {
	case known:
		http.Error(w, "token used already", http.StatusForbidden)
		return
	case full:
		http.Error(w, "too many webhooks at once; send it again later", http.StatusServiceUnavailable)
		return
	}
	var ev mailgunEvent
	if err := json.Unmarshal(b.EventData, &ev); err != nil {
		http.Error(w, "no Mailgun event-data", http.StatusNotAcceptable)
		return
	}
	n := Notice{
		Provider: ProviderMailgun, Address: ev.Recipient, MessageID: ev.Message.Headers.MessageID, EventID: ev.ID,
		Reason: firstOf(ev.DeliveryStatus.Description, ev.DeliveryStatus.Message, ev.Reason), At: unixFloat(ev.Timestamp),
	}
	e := event{id: ev.ID}
	switch {
	case ev.Event == "failed" && ev.Severity == "permanent":
		n.Kind = KindBounce
		e.notices = []Notice{n}
	case ev.Event == "complained":
		n.Kind = KindComplaint
		e.notices = []Notice{n}
	}
	if !deliver(w, r, h.cfg.Sink, h.seen, []event{e}) {
		// Mailgun's retry may bring the same token.
		h.tokens.release(b.Signature.Token)
	}
}

var errMailgunSignature = errors.New("bouncehook: Mailgun signature does not verify")

// verify checks the signature of the timestamp and token, and the
// timestamp's age.
func (h *Mailgun) verify(b mailgunBody) error {
	got, err := hex.DecodeString(b.Signature.Signature)
	if err != nil {
		return fmt.Errorf("%w: not hex", errMailgunSignature)
	}
	mac := hmac.New(sha256.New, []byte(h.cfg.SigningKey))
	mac.Write([]byte(b.Signature.Timestamp + b.Signature.Token))
	if !hmac.Equal(got, mac.Sum(nil)) {
		return errMailgunSignature
	}
	if err := fresh(b.Signature.Timestamp, h.cfg.Now(), h.cfg.Window); err != nil {
		return fmt.Errorf("%w: %w", errMailgunSignature, err)
	}
	return nil
}

// unixFloat reads Mailgun's Unix time in seconds with a fraction.
func unixFloat(t float64) time.Time {
	if t <= 0 {
		return time.Time{}
	}
	sec, frac := math.Modf(t)
	return time.Unix(int64(sec), int64(math.Round(frac*1e6))*1e3).UTC()
}
