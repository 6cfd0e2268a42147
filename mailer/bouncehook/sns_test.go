package bouncehook_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/invitekit/invites/mailer/bouncehook"
)

const (
	snsTopic   = "arn:aws:sns:us-east-1:123456789012:ses-feedback"
	snsCertURL = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-test.pem"
)

// snsNow is the handlers' clock: a minute after the samples' timestamps.
var snsNow = time.Date(2016, 1, 27, 15, 0, 38, 0, time.UTC)

// snsKeys are the test's signing key and another one, made once.
var snsKeys = sync.OnceValue(func() [2]*rsa.PrivateKey {
	var keys [2]*rsa.PrivateKey
	for i := range keys {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		keys[i] = k
	}
	return keys
})

// snsServer stands for the SNS hosts: it serves the signing certificate,
// which is also its TLS certificate for the SNS host names, and takes
// SubscribeURL visits. Its client dials it whatever the URL's host.
type snsServer struct {
	client   *http.Client
	certHits atomic.Int32
	confirms atomic.Int32
}

func newSNSServer(t *testing.T) *snsServer {
	t.Helper()
	key := snsKeys()[0]
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "sns.amazonaws.com"},
		DNSNames:     []string{"sns.us-east-1.amazonaws.com", "sns.cn-north-1.amazonaws.com.cn"},
		NotBefore:    snsNow.Add(-24 * time.Hour),
		NotAfter:     snsNow.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	s := &snsServer{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /SimpleNotificationService-test.pem", func(w http.ResponseWriter, r *http.Request) {
		s.certHits.Add(1)
		_ = pem.Encode(w, &pem.Block{Type: "CERTIFICATE", Bytes: der})
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("Action") == "ConfirmSubscription" {
			s.confirms.Add(1)
		}
	})
	srv := httptest.NewUnstartedServer(mux)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // handshakes cut short by Close
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	addr := srv.Listener.Addr().String()
	tr := &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots, Time: func() time.Time { return snsNow }},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	}
	t.Cleanup(tr.CloseIdleConnections)
	s.client = &http.Client{Transport: tr, Timeout: 5 * time.Second}
	return s
}

func newSNS(t *testing.T, s *snsServer, sk *sink, confirm bool) *bouncehook.SNS {
	t.Helper()
	h, err := bouncehook.NewSNS(bouncehook.SNSConfig{
		Sink: sk, TopicARNs: []string{snsTopic}, Client: s.client,
		ConfirmSubscriptions: confirm, Now: func() time.Time { return snsNow },
	})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// snsMsg is an SNS message as posted, built by the test.
type snsMsg map[string]string

// sign signs m as SNS does for its Type and version with key.
func (m snsMsg) sign(version string, key *rsa.PrivateKey) snsMsg {
	fields := []string{"Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"}
	if m["Type"] != "Notification" {
		fields = []string{"Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"}
	}
	var b strings.Builder
	for _, f := range fields {
		if v, ok := m[f]; ok {
			b.WriteString(f + "\n" + v + "\n")
		}
	}
	hash, sum := crypto.SHA256, sha256.Sum256([]byte(b.String()))
	digest := sum[:]
	if version == "1" {
		s1 := sha1.Sum([]byte(b.String()))
		hash, digest = crypto.SHA1, s1[:]
	}
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, hash, digest)
	if err != nil {
		panic(err)
	}
	m["SignatureVersion"] = version
	m["Signature"] = base64.StdEncoding.EncodeToString(sig)
	return m
}

func (m snsMsg) body() string {
	b, err := json.Marshal(map[string]string(m))
	if err != nil {
		panic(err)
	}
	return string(b)
}

func (m snsMsg) with(k, v string) snsMsg {
	c := snsMsg{}
	for kk, vv := range m {
		c[kk] = vv
	}
	c[k] = v
	return c
}

// notification wraps an SES notification as SNS posts it, unsigned.
func notification(id, ses string) snsMsg {
	return snsMsg{
		"Type": "Notification", "MessageId": id, "TopicArn": snsTopic,
		"Message": ses, "Timestamp": "2016-01-27T14:59:38.521Z", "SigningCertURL": snsCertURL,
	}
}

// The samples are AWS's documented SES notifications (bounce with a DSN
// and the original headers; complaint), the bounce with a second
// recipient to show a batch.
const (
	sesMail      = `"mail":{"timestamp":"2016-01-27T14:59:38.237Z","source":"john@example.com","sourceArn":"arn:aws:ses:us-east-1:888888888888:identity/example.com","sourceIp":"127.0.3.0","sendingAccountId":"123456789012","callerIdentity":"IAM_user_or_role_name","messageId":"00000138111222aa-33322211-cccc-cccc-cccc-ddddaaaa0680-000000","destination":["jane@example.com","mary@example.com","richard@example.com"],"headersTruncated":false,"headers":[{"name":"From","value":"\"John Doe\" <john@example.com>"},{"name":"To","value":"\"Jane Doe\" <jane@example.com>, \"Mary Doe\" <mary@example.com>, \"Richard Doe\" <richard@example.com>"},{"name":"Message-ID","value":"custom-message-ID"},{"name":"Subject","value":"Hello"},{"name":"Content-Type","value":"text/plain; charset=\"UTF-8\""},{"name":"Content-Transfer-Encoding","value":"base64"},{"name":"Date","value":"Wed, 27 Jan 2016 14:05:45 +0000"}],"commonHeaders":{"from":["John Doe <john@example.com>"],"date":"Wed, 27 Jan 2016 14:05:45 +0000","to":["Jane Doe <jane@example.com>, Mary Doe <mary@example.com>, Richard Doe <richard@example.com>"],"messageId":"custom-message-ID","subject":"Hello"}}`
	sesBounce    = `{"notificationType":"Bounce","bounce":{"bounceType":"Permanent","reportingMTA":"dns; email.example.com","bouncedRecipients":[{"emailAddress":"jane@example.com","status":"5.1.1","action":"failed","diagnosticCode":"smtp; 550 5.1.1 <jane@example.com>... User"},{"emailAddress":"mary@example.com","status":"5.1.1","action":"failed"}],"bounceSubType":"General","timestamp":"2016-01-27T14:59:38.237Z","feedbackId":"00000138111222aa-33322211-cccc-cccc-cccc-ddddaaaa068a-000000","remoteMtaIp":"127.0.2.0"},` + sesMail + `}`
	sesComplaint = `{"notificationType":"Complaint","complaint":{"userAgent":"AnyCompany Feedback Loop (V0.01)","complainedRecipients":[{"emailAddress":"richard@example.com"}],"complaintFeedbackType":"abuse","arrivalDate":"2016-01-27T14:59:38.237Z","timestamp":"2016-01-27T14:59:38.237Z","feedbackId":"000001378603177f-18c07c78-fa81-4a58-9dd1-fedc3cb8f49a-000000"},` + sesMail + `}`
)

var sesAt = time.Date(2016, 1, 27, 14, 59, 38, 237e6, time.UTC)

func TestSNSPassesOnPermanentBouncesAndComplaints(t *testing.T) {
	bounce := func(id, addr, reason string) bouncehook.Notice {
		return bouncehook.Notice{Provider: "ses", Kind: bouncehook.KindBounce, Address: addr, MessageID: "custom-message-ID", EventID: id, Reason: reason, At: sesAt}
	}
	const id = "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324"
	for _, tc := range []struct {
		name, version, ses string
		want               []bouncehook.Notice
	}{
		{"bounce v1", "1", sesBounce, []bouncehook.Notice{
			bounce(id, "jane@example.com", "smtp; 550 5.1.1 <jane@example.com>... User"),
			bounce(id, "mary@example.com", "5.1.1"),
		}},
		{"bounce v2", "2", sesBounce, []bouncehook.Notice{
			bounce(id, "jane@example.com", "smtp; 550 5.1.1 <jane@example.com>... User"),
			bounce(id, "mary@example.com", "5.1.1"),
		}},
		{"complaint", "2", sesComplaint, []bouncehook.Notice{{
			Provider: "ses", Kind: bouncehook.KindComplaint, Address: "richard@example.com",
			MessageID: "custom-message-ID", EventID: id, Reason: "abuse", At: sesAt,
		}}},
		{"event publishing", "2", strings.Replace(sesComplaint, `"notificationType"`, `"eventType"`, 1), []bouncehook.Notice{{
			Provider: "ses", Kind: bouncehook.KindComplaint, Address: "richard@example.com",
			MessageID: "custom-message-ID", EventID: id, Reason: "abuse", At: sesAt,
		}}},
		{"no original headers", "2", strings.Replace(sesBounce, sesMail, `"mail":{"messageId":"0000-ses-id"}`, 1), []bouncehook.Notice{
			{Provider: "ses", Kind: bouncehook.KindBounce, Address: "jane@example.com", MessageID: "0000-ses-id", EventID: id, Reason: "smtp; 550 5.1.1 <jane@example.com>... User", At: sesAt},
			{Provider: "ses", Kind: bouncehook.KindBounce, Address: "mary@example.com", MessageID: "0000-ses-id", EventID: id, Reason: "5.1.1", At: sesAt},
		}},
		{"transient", "2", strings.Replace(sesBounce, `"Permanent"`, `"Transient"`, 1), nil},
		{"undetermined", "2", strings.Replace(sesBounce, `"Permanent"`, `"Undetermined"`, 1), nil},
		{"delivery", "2", `{"notificationType":"Delivery","delivery":{"recipients":["jane@example.com"]},` + sesMail + `}`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, sk := newSNSServer(t), &sink{}
			h := newSNS(t, srv, sk, false)
			m := notification(id, tc.ses).sign(tc.version, snsKeys()[0])
			if code := post(t, h, "/hooks/ses", m.body(), nil); code != http.StatusOK {
				t.Fatalf("status %d", code)
			}
			wantNotices(t, sk.got(), tc.want)
		})
	}
}

func TestSNSRefusesWhatItCannotVerify(t *testing.T) {
	good := notification("0d4b2a7e-8d4c-4e6b-9a4f-1e0c2f7b6a11", sesBounce)
	for _, tc := range []struct {
		name  string
		body  string
		code  int
		fetch bool // whether the certificate may be fetched
	}{
		{"tampered message", good.sign("2", snsKeys()[0]).with("Message", strings.Replace(sesBounce, "jane@", "joe@", 1)).body(), http.StatusForbidden, true},
		{"tampered subject", good.sign("2", snsKeys()[0]).with("Subject", "hi").body(), http.StatusForbidden, true},
		{"wrong key", good.sign("2", snsKeys()[1]).body(), http.StatusForbidden, true},
		{"stale", good.with("Timestamp", "2016-01-27T13:59:00.000Z").sign("2", snsKeys()[0]).body(), http.StatusForbidden, false},
		{"unknown version", good.sign("2", snsKeys()[0]).with("SignatureVersion", "3").body(), http.StatusForbidden, false},
		{"other topic", good.with("TopicArn", "arn:aws:sns:us-east-1:123456789012:other").sign("2", snsKeys()[0]).body(), http.StatusForbidden, false},
		{"http cert URL", good.with("SigningCertURL", strings.Replace(snsCertURL, "https", "http", 1)).sign("2", snsKeys()[0]).body(), http.StatusForbidden, false},
		{"foreign cert host", good.with("SigningCertURL", "https://sns.us-east-1.amazonaws.com.evil.test/SimpleNotificationService-test.pem").sign("2", snsKeys()[0]).body(), http.StatusForbidden, false},
		{"cert host without region", good.with("SigningCertURL", "https://sns.amazonaws.com/SimpleNotificationService-test.pem").sign("2", snsKeys()[0]).body(), http.StatusForbidden, false},
		{"cert URL with user", good.with("SigningCertURL", "https://x@sns.us-east-1.amazonaws.com/SimpleNotificationService-test.pem").sign("2", snsKeys()[0]).body(), http.StatusForbidden, false},
		{"cert URL not a pem", good.with("SigningCertURL", "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription").sign("2", snsKeys()[0]).body(), http.StatusForbidden, false},
		{"not JSON", "Type=Notification", http.StatusBadRequest, false},
		{"too large", oversized, http.StatusRequestEntityTooLarge, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, sk := newSNSServer(t), &sink{}
			h := newSNS(t, srv, sk, false)
			if code := post(t, h, "/hooks/ses", tc.body, nil); code != tc.code {
				t.Errorf("status %d, want %d", code, tc.code)
			}
			if n := sk.got(); len(n) != 0 {
				t.Errorf("the sink heard %+v", n)
			}
			if hits := srv.certHits.Load(); hits != 0 && !tc.fetch {
				t.Errorf("the certificate was fetched %d times", hits)
			}
		})
	}
}

func TestSNSTakesAnEventOnceAndCachesTheCertificate(t *testing.T) {
	srv, sk := newSNSServer(t), &sink{}
	h := newSNS(t, srv, sk, false)
	m := notification("5f8a3c1e-0000-4000-8000-000000000001", sesComplaint).sign("2", snsKeys()[0])
	takenOnce(t, sk, func() int { return post(t, h, "/hooks/ses", m.body(), nil) }, 3, 1)
	if hits := srv.certHits.Load(); hits != 1 {
		t.Errorf("the certificate was fetched %d times, want 1", hits)
	}
}

func TestSNSConfirmsSubscriptionsOnlyWhenAllowed(t *testing.T) {
	confirmation := func(topic, subscribeURL string) string {
		return snsMsg{
			"Type": "SubscriptionConfirmation", "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
			"Token": "2336412f37", "TopicArn": topic,
			"Message":      "You have chosen to subscribe to the topic " + topic + ".\nTo confirm the subscription, visit the SubscribeURL included in this message.",
			"SubscribeURL": subscribeURL, "Timestamp": "2016-01-27T14:59:38.521Z", "SigningCertURL": snsCertURL,
		}.sign("1", snsKeys()[0]).body()
	}
	subscribe := "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=" + snsTopic + "&Token=2336412f37"
	for _, tc := range []struct {
		name    string
		allow   bool
		body    string
		code    int
		confirm int32
	}{
		{"allowed", true, confirmation(snsTopic, subscribe), http.StatusOK, 1},
		{"not allowed", false, confirmation(snsTopic, subscribe), http.StatusOK, 0},
		{"other topic", true, confirmation("arn:aws:sns:us-east-1:123456789012:other", subscribe), http.StatusForbidden, 0},
		{"foreign SubscribeURL", true, confirmation(snsTopic, "https://evil.test/?Action=ConfirmSubscription"), http.StatusBadGateway, 0},
		{"type changed after signing", true, strings.Replace(confirmation(snsTopic, subscribe), "SubscriptionConfirmation", "UnsubscribeConfirmation", 1), http.StatusForbidden, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, sk := newSNSServer(t), &sink{}
			h := newSNS(t, srv, sk, tc.allow)
			if code := post(t, h, "/hooks/ses", tc.body, nil); code != tc.code {
				t.Errorf("status %d, want %d", code, tc.code)
			}
			if got := srv.confirms.Load(); got != tc.confirm {
				t.Errorf("SubscribeURL visited %d times, want %d", got, tc.confirm)
			}
		})
	}
}

func TestNewSNSWantsSinkAndTopics(t *testing.T) {
	for _, cfg := range []bouncehook.SNSConfig{{TopicARNs: []string{snsTopic}}, {Sink: &sink{}}} {
		if _, err := bouncehook.NewSNS(cfg); err == nil {
			t.Errorf("NewSNS(%+v) = nil error", cfg)
		}
	}
}

func TestSNSRefusesAnExpiredCertificate(t *testing.T) {
	srv, sk := newSNSServer(t), &sink{}
	later := snsNow.Add(25 * time.Hour) // the certificate ends at snsNow+24h
	h, err := bouncehook.NewSNS(bouncehook.SNSConfig{
		Sink: sk, TopicARNs: []string{snsTopic}, Client: srv.client, Now: func() time.Time { return later },
	})
	if err != nil {
		t.Fatal(err)
	}
	m := notification("9c1f0a57-0000-4000-8000-000000000002", sesBounce).with("Timestamp", later.Format(time.RFC3339Nano)).sign("2", snsKeys()[0])
	if code := post(t, h, "/hooks/ses", m.body(), nil); code != http.StatusForbidden {
		t.Errorf("status %d, want 403", code)
	}
	if n := sk.got(); len(n) != 0 {
		t.Errorf("the sink heard %+v", n)
	}
}
