package bouncehook

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The headers of SendGrid's Signed Event Webhook.
const (
	SendGridSignatureHeader = "X-Twilio-Email-Event-Webhook-Signature"
	SendGridTimestampHeader = "X-Twilio-Email-Event-Webhook-Timestamp"
)

// SendGridConfig sets up the handler for SendGrid's Signed Event Webhook.
// Sink and PublicKey are required.
type SendGridConfig struct {
	Sink Sink
	// PublicKey is the verification key SendGrid shows for the webhook:
	// the base64 of a P-256 public key (SubjectPublicKeyInfo), with or
	// without its PEM lines.
	PublicKey string
	// Window refuses a request whose signed timestamp is further than this
	// from now. Default 5 minutes.
	Window time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// SendGrid is the http.Handler for SendGrid's Event Webhook. It verifies
// the ECDSA signature over the timestamp and the raw body, and passes on
// bounce events (not of type blocked, which is temporary), dropped events
// whose reason is a bounced or spam-reporting address, and spamreport
// events; others are acknowledged unheard. An sg_event_id is taken once.
// The Notice's MessageID is the event's smtp-id, the email's Message-ID.
type SendGrid struct {
	cfg  SendGridConfig
	key  *ecdsa.PublicKey
	seen *recent
}

// NewSendGrid returns the SendGrid handler.
func NewSendGrid(cfg SendGridConfig) (*SendGrid, error) {
	if cfg.Sink == nil {
		return nil, errors.New("bouncehook: SendGridConfig.Sink is required")
	}
	key, err := sendGridKey(cfg.PublicKey)
	if err != nil {
		return nil, err
	}
	if cfg.Window <= 0 {
		cfg.Window = 5 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &SendGrid{cfg: cfg, key: key, seen: newRecent(0, rememberEvents, true)}, nil
}

func sendGridKey(s string) (*ecdsa.PublicKey, error) {
	var der []byte
	if block, _ := pem.Decode([]byte(s)); block != nil {
		der = block.Bytes
	} else {
		var err error
		if der, err = base64.StdEncoding.DecodeString(strings.TrimSpace(s)); err != nil {
			return nil, fmt.Errorf("bouncehook: SendGridConfig.PublicKey is not base64: %w", err)
		}
	}
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("bouncehook: SendGridConfig.PublicKey: %w", err)
	}
	key, ok := pub.(*ecdsa.PublicKey)
	if !ok || key.Curve != elliptic.P256() {
		return nil, errors.New("bouncehook: SendGridConfig.PublicKey is not a P-256 key")
	}
	return key, nil
}

// sendGridEvent is the part of an Event Webhook event read.
type sendGridEvent struct {
	Email     string `json:"email"`
	Timestamp int64  `json:"timestamp"`
	SMTPID    string `json:"smtp-id"`
	Event     string `json:"event"`
	EventID   string `json:"sg_event_id"`
	Reason    string `json:"reason"`
	Status    string `json:"status"`
	Type      string `json:"type"`
}

// sendGridDropped maps the reasons of dropped events that name the
// address's own fault to a Kind.
var sendGridDropped = map[string]Kind{"Bounced Address": KindBounce, "Spam Reporting Address": KindComplaint}

// ServeHTTP answers 200 for events taken or ignored, 403 when the
// signature is missing or wrong or its timestamp out of the window, 400
// for a verified body that is no event list, 413 beyond MaxBodyBytes, and
// 503 when the Sink failed: SendGrid retries what is not 2xx.
func (h *SendGrid) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	if err := h.verify(r.Header, body); err != nil {
		http.Error(w, err.Error(), http.StatusForbidden)
		return
	}
	var list []sendGridEvent
	if err := json.Unmarshal(body, &list); err != nil {
		http.Error(w, "not a SendGrid event list", http.StatusBadRequest)
		return
	}
	events := make([]event, 0, len(list))
	for _, ev := range list {
		n := Notice{
			Provider: ProviderSendGrid, Address: ev.Email, MessageID: ev.SMTPID, EventID: ev.EventID,
			Reason: firstOf(ev.Reason, ev.Status),
		}
		if ev.Timestamp > 0 {
			n.At = time.Unix(ev.Timestamp, 0).UTC()
		}
		switch ev.Event {
		case "bounce":
			if ev.Type != "blocked" {
				n.Kind = KindBounce
			}
		case "dropped":
			n.Kind = sendGridDropped[ev.Reason]
		case "spamreport":
			n.Kind = KindComplaint
		}
		e := event{id: ev.EventID}
		if n.Kind != "" {
			e.notices = []Notice{n}
		}
		events = append(events, e)
	}
	deliver(w, r, h.cfg.Sink, h.seen, events)
}

var errSendGridSignature = errors.New("bouncehook: SendGrid signature does not verify")

// verify checks the signature over the timestamp and body, and the
// timestamp's age.
func (h *SendGrid) verify(header http.Header, body []byte) error {
	ts := header.Get(SendGridTimestampHeader)
	sig, err := base64.StdEncoding.DecodeString(header.Get(SendGridSignatureHeader))
	if err != nil || len(sig) == 0 || ts == "" {
		return fmt.Errorf("%w: the signature headers are missing or not base64", errSendGridSignature)
	}
	d := sha256.New()
	d.Write([]byte(ts))
	d.Write(body)
	if !ecdsa.VerifyASN1(h.key, d.Sum(nil), sig) {
		return errSendGridSignature
	}
	if err := fresh(ts, h.cfg.Now(), h.cfg.Window); err != nil {
		return fmt.Errorf("%w: %w", errSendGridSignature, err)
	}
	return nil
}

// fresh checks that the Unix time ts is within window of now.
func fresh(ts string, now time.Time, window time.Duration) error {
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("timestamp %q is not Unix seconds", ts)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > window || d < -window {
		return fmt.Errorf("timestamp %s is outside %s of now", ts, window)
	}
	return nil
}
