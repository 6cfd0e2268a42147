package bouncehook_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/invitekit/invites/mailer/bouncehook"
)

// SendGrid's documented Event Webhook samples, each with its own
// sg_event_id (the documentation's are all the placeholder "sg_event_id"),
// and a blocked bounce and an unsubscribed drop beside them.
const sendGridEvents = `[
  {"email": "example@test.com", "timestamp": 1513299569, "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>", "event": "processed", "category": "cat facts", "sg_event_id": "e-processed", "sg_message_id": "sg_message_id"},
  {"email": "example@test.com", "timestamp": 1513299569, "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>", "event": "deferred", "category": "cat facts", "sg_event_id": "e-deferred", "sg_message_id": "sg_message_id", "response": "400 try again later", "attempt": "5"},
  {"email": "example@test.com", "timestamp": 1513299569, "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>", "event": "delivered", "category": "cat facts", "sg_event_id": "e-delivered", "sg_message_id": "sg_message_id", "response": "250 OK"},
  {"email": "example@test.com", "timestamp": 1513299569, "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>", "event": "bounce", "category": "cat facts", "sg_event_id": "e-bounce", "sg_message_id": "sg_message_id", "reason": "500 unknown recipient", "status": "5.0.0", "type": "bounce"},
  {"email": "example@test.com", "timestamp": 1513299569, "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>", "event": "bounce", "category": "cat facts", "sg_event_id": "e-blocked", "sg_message_id": "sg_message_id", "reason": "421 try later", "status": "4.0.0", "type": "blocked"},
  {"email": "example@test.com", "timestamp": 1513299569, "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>", "event": "dropped", "category": "cat facts", "sg_event_id": "e-dropped", "sg_message_id": "sg_message_id", "reason": "Bounced Address", "status": "5.0.0"},
  {"email": "example@test.com", "timestamp": 1513299569, "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>", "event": "dropped", "category": "cat facts", "sg_event_id": "e-unsubscribed", "sg_message_id": "sg_message_id", "reason": "Unsubscribed Address", "status": "5.0.0"},
  {"email": "example@test.com", "timestamp": 1513299569, "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>", "event": "spamreport", "category": "cat facts", "sg_event_id": "e-spamreport", "sg_message_id": "sg_message_id"}
]`

// sendGridNow is a minute after the samples' time.
var sendGridNow = time.Unix(1513299629, 0)

// sendGridKey is a P-256 key pair: the private half signs, the public
// half in SendGrid's form (base64 DER) verifies.
type sendGridKey struct {
	priv *ecdsa.PrivateKey
	pub  string
}

func newSendGridKey(t *testing.T) sendGridKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return sendGridKey{priv: k, pub: base64.StdEncoding.EncodeToString(der)}
}

// sign returns the headers SendGrid sends with body at ts.
func (k sendGridKey) sign(ts time.Time, body string) http.Header {
	stamp := strconv.FormatInt(ts.Unix(), 10)
	d := sha256.Sum256([]byte(stamp + body))
	sig, err := ecdsa.SignASN1(rand.Reader, k.priv, d[:])
	if err != nil {
		panic(err)
	}
	h := http.Header{}
	h.Set(bouncehook.SendGridSignatureHeader, base64.StdEncoding.EncodeToString(sig))
	h.Set(bouncehook.SendGridTimestampHeader, stamp)
	return h
}

func newSendGrid(t *testing.T, sk bouncehook.Sink, pub string) *bouncehook.SendGrid {
	t.Helper()
	h, err := bouncehook.NewSendGrid(bouncehook.SendGridConfig{Sink: sk, PublicKey: pub, Now: func() time.Time { return sendGridNow }})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestSendGridPassesOnBouncesDropsAndSpamReports(t *testing.T) {
	key := newSendGridKey(t)
	at := time.Unix(1513299569, 0)
	notice := func(kind bouncehook.Kind, id, reason string) bouncehook.Notice {
		return bouncehook.Notice{
			Provider: "sendgrid", Kind: kind, Address: "example@test.com",
			MessageID: "<14c5d75ce93.dfd.64b469@ismtpd-555>", EventID: id, Reason: reason, At: at,
		}
	}
	for _, tc := range []struct {
		name, pub string
	}{
		{"base64 key", key.pub},
		{"PEM key", "-----BEGIN PUBLIC KEY-----\n" + key.pub + "\n-----END PUBLIC KEY-----\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sk := &sink{}
			h := newSendGrid(t, sk, tc.pub)
			if code := post(t, h, "/hooks/sendgrid", sendGridEvents, key.sign(sendGridNow, sendGridEvents)); code != http.StatusOK {
				t.Fatalf("status %d", code)
			}
			wantNotices(t, sk.got(), []bouncehook.Notice{
				notice(bouncehook.KindBounce, "e-bounce", "500 unknown recipient"),
				notice(bouncehook.KindBounce, "e-dropped", "Bounced Address"),
				notice(bouncehook.KindComplaint, "e-spamreport", ""),
			})
		})
	}
}

func TestSendGridRefusesWhatItCannotVerify(t *testing.T) {
	key, other := newSendGridKey(t), newSendGridKey(t)
	signed := key.sign(sendGridNow, sendGridEvents)
	for _, tc := range []struct {
		name   string
		body   string
		header http.Header
		code   int
	}{
		{"tampered body", strings.Replace(sendGridEvents, "500 unknown recipient", "550 unknown recipient", 1), signed, http.StatusForbidden},
		{"tampered timestamp", sendGridEvents, with(signed, bouncehook.SendGridTimestampHeader, strconv.FormatInt(sendGridNow.Unix()+1, 10)), http.StatusForbidden},
		{"wrong key", sendGridEvents, other.sign(sendGridNow, sendGridEvents), http.StatusForbidden},
		{"stale", sendGridEvents, key.sign(sendGridNow.Add(-6*time.Minute), sendGridEvents), http.StatusForbidden},
		{"from the future", sendGridEvents, key.sign(sendGridNow.Add(6*time.Minute), sendGridEvents), http.StatusForbidden},
		{"unsigned", sendGridEvents, nil, http.StatusForbidden},
		{"signature not base64", sendGridEvents, with(signed, bouncehook.SendGridSignatureHeader, "%%"), http.StatusForbidden},
		{"signed but no event list", `{"event": "bounce"}`, key.sign(sendGridNow, `{"event": "bounce"}`), http.StatusBadRequest},
		{"too large", oversized, key.sign(sendGridNow, oversized), http.StatusRequestEntityTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sk := &sink{}
			h := newSendGrid(t, sk, key.pub)
			if code := post(t, h, "/hooks/sendgrid", tc.body, tc.header); code != tc.code {
				t.Errorf("status %d, want %d", code, tc.code)
			}
			if n := sk.got(); len(n) != 0 {
				t.Errorf("the sink heard %+v", n)
			}
		})
	}
}

// with returns a copy of h with k set to v.
func with(h http.Header, k, v string) http.Header {
	c := h.Clone()
	c.Set(k, v)
	return c
}

func TestSendGridTakesAnEventOnce(t *testing.T) {
	key, sk := newSendGridKey(t), &sink{}
	h := newSendGrid(t, sk, key.pub)
	signed := key.sign(sendGridNow, sendGridEvents)
	// SendGrid's retry, then a replay of the same signed request.
	takenOnce(t, sk, func() int { return post(t, h, "/hooks/sendgrid", sendGridEvents, signed) }, 2, 3)
}

func TestNewSendGridWantsAP256Key(t *testing.T) {
	rsaDER := func() string {
		der, err := x509.MarshalPKIXPublicKey(&snsKeys()[0].PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		return base64.StdEncoding.EncodeToString(der)
	}()
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p384DER, err := x509.MarshalPKIXPublicKey(&p384.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	for name, pub := range map[string]string{
		"none": "", "not base64": "%%", "not a key": base64.StdEncoding.EncodeToString([]byte("key")),
		"RSA": rsaDER, "P-384": base64.StdEncoding.EncodeToString(p384DER),
		"PEM of junk": string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte("junk")})),
	} {
		if _, err := bouncehook.NewSendGrid(bouncehook.SendGridConfig{Sink: &sink{}, PublicKey: pub}); err == nil {
			t.Errorf("%s: NewSendGrid = nil error", name)
		}
	}
	if _, err := bouncehook.NewSendGrid(bouncehook.SendGridConfig{PublicKey: newSendGridKey(t).pub}); err == nil {
		t.Error("without a Sink: NewSendGrid = nil error")
	}
}

// gatedSink holds each notice until the gate opens.
type gatedSink struct {
	sink
	gate chan struct{}
}

func (g *gatedSink) Bounce(ctx context.Context, n bouncehook.Notice) error {
	<-g.gate
	return g.sink.Bounce(ctx, n)
}

// Copies of one event arriving together pass it on once: its id is held
// from before the Sink hears it, so while the first copy waits in the
// Sink the others are answered at once.
func TestSendGridTakesConcurrentCopiesOnce(t *testing.T) {
	key, sk := newSendGridKey(t), &gatedSink{gate: make(chan struct{})}
	h := newSendGrid(t, sk, key.pub)
	body := `[{"email": "example@test.com", "timestamp": 1513299569, "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>", "event": "spamreport", "sg_event_id": "e-spamreport"}]`
	signed := key.sign(sendGridNow, body)
	const copies = 8
	done := make(chan int, copies)
	for range copies {
		go func() { done <- post(t, h, "/hooks/sendgrid", body, signed) }()
	}
	codes := make([]int, 0, copies)
	timeout := time.After(5 * time.Second)
wait:
	for len(codes) < copies-1 { // all but the copy in the Sink
		select {
		case code := <-done:
			codes = append(codes, code)
		case <-timeout:
			break wait
		}
	}
	close(sk.gate)
	for len(codes) < copies {
		codes = append(codes, <-done)
	}
	for i, code := range codes {
		if code != http.StatusOK {
			t.Errorf("copy %d: status %d", i, code)
		}
	}
	if n := sk.got(); len(n) != 1 {
		t.Fatalf("the sink heard %d notices, want 1: %+v", len(n), n)
	}
}
