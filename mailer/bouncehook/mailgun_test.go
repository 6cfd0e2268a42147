package bouncehook_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/invitekit/invites/mailer/bouncehook"
)

const mailgunKey = "key-test-signing"

// mailgunNow is half a minute after the samples' signatures.
var mailgunNow = time.Unix(1529006884, 0)

// Mailgun's documented event-data samples of a permanent failure and a
// complaint, and the failure made temporary.
const (
	mailgunFailed = `{
    "event": "failed",
    "id": "G9Bn5sl1TC6nu79C8C0bwg",
    "timestamp": 1521233195.375624,
    "log-level": "error",
    "severity": "permanent",
    "reason": "suppress-bounce",
    "envelope": {"sender": "bob@sandbox3412.mailgun.org", "transport": "smtp", "targets": "alice@example.com"},
    "flags": {"is-routed": false, "is-authenticated": true, "is-system-test": false, "is-test-mode": false},
    "delivery-status": {"attempt-no": 1, "message": "", "code": 605, "description": "Not delivering to previously bounced address", "session-seconds": 0.0},
    "message": {"headers": {"to": "Alice <alice@example.com>", "message-id": "20130503182626.18666.16540@sandbox3412.mailgun.org", "from": "Bob <bob@sandbox3412.mailgun.org>", "subject": "Test permanent_fail webhook"}, "attachments": [], "size": 111},
    "recipient": "alice@example.com",
    "recipient-domain": "example.com",
    "storage": {"url": "https://se.api.mailgun.net/v3/domains/sandbox3412.mailgun.org/messages/message_key", "key": "message_key"},
    "campaigns": [],
    "tags": ["my_tag_1", "my_tag_2"],
    "user-variables": {"my_var_1": "Mailgun Variable #1", "my-var-2": "awesome"}
  }`
	mailgunComplained = `{
    "id": "-Agny091SquKnsrW2NEKUA",
    "timestamp": 1521233123.501324,
    "log-level": "warn",
    "event": "complained",
    "envelope": {"sending-ip": "173.193.210.33"},
    "flags": {"is-test-mode": false},
    "message": {"headers": {"to": "Alice <alice@example.com>", "message-id": "20110215055645.25246.63817@sandbox3412.mailgun.org", "from": "Bob <bob@sandbox3412.mailgun.org>", "subject": "Test complained webhook"}, "attachments": [], "size": 111},
    "recipient": "alice@example.com",
    "campaigns": [],
    "tags": ["my_tag_1", "my_tag_2"],
    "user-variables": {"my_var_1": "Mailgun Variable #1", "my-var-2": "awesome"}
  }`
)

// mailgunPost is a webhook body of eventData, signed with key at ts with
// token.
func mailgunPost(key string, ts time.Time, token, eventData string) string {
	stamp := strconv.FormatInt(ts.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write([]byte(stamp + token))
	return `{"signature": {"timestamp": "` + stamp + `", "token": "` + token + `", "signature": "` +
		hex.EncodeToString(mac.Sum(nil)) + `"}, "event-data": ` + eventData + `}`
}

// mgToken returns a 50-character token, as Mailgun's, told apart by n.
func mgToken(n int) string { return strconv.Itoa(1000+n) + strings.Repeat("a", 46) }

func newMailgun(t *testing.T, sk *sink) *bouncehook.Mailgun {
	t.Helper()
	h, err := bouncehook.NewMailgun(bouncehook.MailgunConfig{Sink: sk, SigningKey: mailgunKey, Now: func() time.Time { return mailgunNow }})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestMailgunPassesOnPermanentFailuresAndComplaints(t *testing.T) {
	signedAt := time.Unix(1529006854, 0)
	for _, tc := range []struct {
		name, eventData string
		want            []bouncehook.Notice
	}{
		{"failed permanently", mailgunFailed, []bouncehook.Notice{{
			Provider: "mailgun", Kind: bouncehook.KindBounce, Address: "alice@example.com",
			MessageID: "20130503182626.18666.16540@sandbox3412.mailgun.org", EventID: "G9Bn5sl1TC6nu79C8C0bwg",
			Reason: "Not delivering to previously bounced address", At: time.Unix(1521233195, 375624000),
		}}},
		{"complained", mailgunComplained, []bouncehook.Notice{{
			Provider: "mailgun", Kind: bouncehook.KindComplaint, Address: "alice@example.com",
			MessageID: "20110215055645.25246.63817@sandbox3412.mailgun.org", EventID: "-Agny091SquKnsrW2NEKUA",
			At: time.Unix(1521233123, 501324000),
		}}},
		{"failed temporarily", strings.Replace(mailgunFailed, `"permanent"`, `"temporary"`, 1), nil},
		{"delivered", strings.Replace(mailgunComplained, `"complained"`, `"delivered"`, 1), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sk := &sink{}
			h := newMailgun(t, sk)
			if code := post(t, h, "/hooks/mailgun", mailgunPost(mailgunKey, signedAt, mgToken(1), tc.eventData), nil); code != http.StatusOK {
				t.Fatalf("status %d", code)
			}
			wantNotices(t, sk.got(), tc.want)
		})
	}
}

func TestMailgunRefusesWhatItCannotVerify(t *testing.T) {
	signed := mailgunPost(mailgunKey, mailgunNow, mgToken(1), mailgunFailed)
	for _, tc := range []struct {
		name string
		body string
		code int
	}{
		{"tampered token", strings.Replace(signed, mgToken(1), mgToken(2), 1), http.StatusForbidden},
		{"tampered timestamp", strings.Replace(signed, strconv.FormatInt(mailgunNow.Unix(), 10), strconv.FormatInt(mailgunNow.Unix()+1, 10), 1), http.StatusForbidden},
		{"wrong key", mailgunPost("key-other", mailgunNow, mgToken(1), mailgunFailed), http.StatusForbidden},
		{"stale", mailgunPost(mailgunKey, mailgunNow.Add(-6*time.Minute), mgToken(1), mailgunFailed), http.StatusForbidden},
		{"from the future", mailgunPost(mailgunKey, mailgunNow.Add(6*time.Minute), mgToken(1), mailgunFailed), http.StatusForbidden},
		{"signature not hex", strings.Replace(signed, `"signature": "`, `"signature": "zz`, 1), http.StatusForbidden},
		{"no signature", `{"event-data": ` + mailgunFailed + `}`, http.StatusNotAcceptable},
		{"form post", "token=x&timestamp=1&signature=y&event=bounced", http.StatusNotAcceptable},
		{"signed but no event", mailgunPost(mailgunKey, mailgunNow, mgToken(1), `"failed"`), http.StatusNotAcceptable},
		{"too large", oversized, http.StatusRequestEntityTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sk := &sink{}
			h := newMailgun(t, sk)
			if code := post(t, h, "/hooks/mailgun", tc.body, nil); code != tc.code {
				t.Errorf("status %d, want %d", code, tc.code)
			}
			if n := sk.got(); len(n) != 0 {
				t.Errorf("the sink heard %+v", n)
			}
		})
	}
}

func TestMailgunRefusesATokenUsedAlready(t *testing.T) {
	sk := &sink{}
	h := newMailgun(t, sk)
	first := mailgunPost(mailgunKey, mailgunNow, mgToken(1), mailgunComplained)
	if code := post(t, h, "/hooks/mailgun", first, nil); code != http.StatusOK {
		t.Fatalf("status %d", code)
	}
	// The captured signature with another event.
	replay := mailgunPost(mailgunKey, mailgunNow, mgToken(1), mailgunFailed)
	if code := post(t, h, "/hooks/mailgun", replay, nil); code != http.StatusForbidden {
		t.Errorf("replayed token: status %d, want 403", code)
	}
	if n := sk.got(); len(n) != 1 || n[0].Kind != bouncehook.KindComplaint {
		t.Errorf("the sink heard %+v, want the complaint alone", n)
	}
}

func TestMailgunTakesAnEventOnce(t *testing.T) {
	sk := &sink{}
	h := newMailgun(t, sk)
	body := mailgunPost(mailgunKey, mailgunNow, mgToken(1), mailgunFailed)
	sk.fail(errors.New("store down"))
	if code := post(t, h, "/hooks/mailgun", body, nil); code != http.StatusServiceUnavailable {
		t.Fatalf("with the sink failing: status %d, want 503", code)
	}
	sk.fail(nil)
	// Mailgun's retry, with the same token, goes through once.
	if code := post(t, h, "/hooks/mailgun", body, nil); code != http.StatusOK {
		t.Fatalf("retry: status %d", code)
	}
	// The same event again, freshly signed, is acknowledged unheard.
	if code := post(t, h, "/hooks/mailgun", mailgunPost(mailgunKey, mailgunNow, mgToken(2), mailgunFailed), nil); code != http.StatusOK {
		t.Fatalf("status %d", code)
	}
	if n := sk.got(); len(n) != 1 {
		t.Fatalf("the sink heard %d notices, want the retry's 1: %+v", len(n), n)
	}
}

func TestNewMailgunWantsSinkAndKey(t *testing.T) {
	for _, cfg := range []bouncehook.MailgunConfig{{SigningKey: mailgunKey}, {Sink: &sink{}}} {
		if _, err := bouncehook.NewMailgun(cfg); err == nil {
			t.Errorf("NewMailgun(%+v) = nil error", cfg)
		}
	}
}
