package bouncehook

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha1" // SNS SignatureVersion 1 is SHA1withRSA
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
)

// SNSConfig sets up the handler for Amazon SES notifications delivered by
// Amazon SNS. Sink and TopicARNs are required.
type SNSConfig struct {
	Sink Sink
	// TopicARNs are the SNS topics the handler takes messages of; any
	// other is refused before its signature is checked.
	TopicARNs []string
	// Client fetches the signing certificates and, with
	// ConfirmSubscriptions, the SubscribeURL. Default: a client with a
	// 10-second timeout. Each fetch is also bounded by 10 seconds.
	Client *http.Client
	// ConfirmSubscriptions lets the handler confirm a subscription to one
	// of TopicARNs by fetching its SubscribeURL. Off, a confirmation is
	// acknowledged and nothing more: confirm it in the AWS console.
	ConfirmSubscriptions bool
	// MaxAge refuses a message older than this by its Timestamp, so a
	// message captured once cannot be replayed after its MessageId is
	// forgotten. Default 1 hour, beyond SNS's default retries.
	MaxAge time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// SNS is the http.Handler for SES bounce and complaint notifications
// through SNS. It verifies each message's signature (SignatureVersion 1
// or 2) with the certificate at its SigningCertURL, which must be an
// https URL on an SNS host (sns.<region>.amazonaws.com, or .com.cn);
// certificates are cached. It passes on permanent bounces and complaints,
// one Notice per recipient, and drops a MessageId it has taken already.
type SNS struct {
	cfg   SNSConfig
	certs *certCache
	seen  *recent
}

// NewSNS returns the SNS handler.
func NewSNS(cfg SNSConfig) (*SNS, error) {
	if cfg.Sink == nil {
		return nil, errors.New("bouncehook: SNSConfig.Sink is required")
	}
	if len(cfg.TopicARNs) == 0 {
		return nil, errors.New("bouncehook: SNSConfig.TopicARNs is required")
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: fetchTimeout}
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &SNS{cfg: cfg, certs: newCertCache(cfg.Client), seen: newRecent(0, rememberEvents, true)}, nil
}

// fetchTimeout bounds one fetch of a certificate or a SubscribeURL.
const fetchTimeout = 10 * time.Second

// snsHost is the host every SigningCertURL and SubscribeURL must have, as
// the AWS SDKs check it.
var snsHost = regexp.MustCompile(`^sns\.[a-z0-9-]{3,}\.amazonaws\.com(\.cn)?$`)

// snsMessage is the JSON document SNS posts.
type snsMessage struct {
	Type             string
	MessageID        string `json:"MessageId"`
	Token            string
	TopicArn         string
	Subject          *string // signed only when present
	Message          string
	SubscribeURL     string
	Timestamp        string
	SignatureVersion string
	Signature        string
	SigningCertURL   string
}

// ServeHTTP answers 200 for a message taken or ignored, 403 for one whose
// signature, topic or age is refused, 400 for one that is not an SNS
// message, 413 beyond MaxBodyBytes, 502 when a certificate or the
// SubscribeURL cannot be fetched, and 503 when the Sink failed: SNS
// retries the 5xx.
func (h *SNS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	var m snsMessage
	if err := json.Unmarshal(body, &m); err != nil || m.Type == "" {
		http.Error(w, "not an SNS message", http.StatusBadRequest)
		return
	}
	if !slices.Contains(h.cfg.TopicARNs, m.TopicArn) {
		http.Error(w, "topic not allowed", http.StatusForbidden)
		return
	}
	if err := h.verify(r.Context(), &m); err != nil {
		code := http.StatusForbidden
		if errors.Is(err, errFetch) {
			code = http.StatusBadGateway
		}
		http.Error(w, err.Error(), code)
		return
	}
	switch m.Type {
	case "Notification":
		events, err := sesEvents(m)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		deliver(w, r, h.cfg.Sink, h.seen, events)
	case "SubscriptionConfirmation":
		if h.cfg.ConfirmSubscriptions {
			if err := h.confirm(r.Context(), m.SubscribeURL); err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
		}
		w.WriteHeader(http.StatusOK)
	default: // UnsubscribeConfirmation: nothing to do
		w.WriteHeader(http.StatusOK)
	}
}

var (
	errSignature = errors.New("bouncehook: SNS signature does not verify")
	errFetch     = errors.New("bouncehook: fetching from SNS failed")
)

// verify checks m's age, certificate URL and signature.
func (h *SNS) verify(ctx context.Context, m *snsMessage) error {
	at, err := time.Parse(time.RFC3339Nano, m.Timestamp)
	if err != nil {
		return fmt.Errorf("%w: Timestamp %q", errSignature, m.Timestamp)
	}
	if age := h.cfg.Now().Sub(at); age > h.cfg.MaxAge || age < -h.cfg.MaxAge {
		return fmt.Errorf("%w: Timestamp %s is outside %s of now", errSignature, m.Timestamp, h.cfg.MaxAge)
	}
	canonical, err := m.canonical()
	if err != nil {
		return err
	}
	var hash crypto.Hash
	switch m.SignatureVersion {
	case "1":
		hash = crypto.SHA1
	case "2":
		hash = crypto.SHA256
	default:
		return fmt.Errorf("%w: SignatureVersion %q", errSignature, m.SignatureVersion)
	}
	sig, err := base64.StdEncoding.DecodeString(m.Signature)
	if err != nil {
		return fmt.Errorf("%w: Signature is not base64", errSignature)
	}
	u, err := snsURL(m.SigningCertURL)
	if err != nil || !strings.HasSuffix(u.Path, ".pem") {
		return fmt.Errorf("%w: SigningCertURL %q is not an SNS certificate", errSignature, m.SigningCertURL)
	}
	key, err := h.certs.key(ctx, u.String(), h.cfg.Now())
	if err != nil {
		return err
	}
	if err := rsa.VerifyPKCS1v15(key, hash, digest(hash, canonical), sig); err != nil {
		return errSignature
	}
	return nil
}

// canonical returns the string SNS signs for m's Type: each field's name
// and value, each on its own line, in this order.
func (m *snsMessage) canonical() ([]byte, error) {
	var b strings.Builder
	add := func(k, v string) { b.WriteString(k + "\n" + v + "\n") }
	switch m.Type {
	case "Notification":
		add("Message", m.Message)
		add("MessageId", m.MessageID)
		if m.Subject != nil {
			add("Subject", *m.Subject)
		}
		add("Timestamp", m.Timestamp)
		add("TopicArn", m.TopicArn)
		add("Type", m.Type)
	case "SubscriptionConfirmation", "UnsubscribeConfirmation":
		add("Message", m.Message)
		add("MessageId", m.MessageID)
		add("SubscribeURL", m.SubscribeURL)
		add("Timestamp", m.Timestamp)
		add("Token", m.Token)
		add("TopicArn", m.TopicArn)
		add("Type", m.Type)
	default:
		return nil, fmt.Errorf("%w: Type %q", errSignature, m.Type)
	}
	return []byte(b.String()), nil
}

func digest(h crypto.Hash, b []byte) []byte {
	if h == crypto.SHA1 {
		d := sha1.Sum(b)
		return d[:]
	}
	d := sha256.Sum256(b)
	return d[:]
}

// snsURL parses raw and checks that it is an https URL of an SNS host.
func snsURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "https" || u.User != nil || u.Port() != "" || !snsHost.MatchString(u.Host) {
		return nil, fmt.Errorf("bouncehook: %q is not an https URL of an SNS host", raw)
	}
	return u, nil
}

// confirm fetches the SubscribeURL, which confirms the subscription.
func (h *SNS) confirm(ctx context.Context, raw string) error {
	u, err := snsURL(raw)
	if err != nil {
		return err
	}
	resp, err := fetch(ctx, h.cfg.Client, u.String())
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// fetch GETs u with a bounded wait and wants a 2xx; the caller closes the
// body.
func fetch(ctx context.Context, c *http.Client, u string) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		cancel()
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("%w: %w", errFetch, err)
	}
	if resp.StatusCode/100 != 2 {
		resp.Body.Close()
		cancel()
		return nil, fmt.Errorf("%w: %s answered %s", errFetch, u, resp.Status)
	}
	resp.Body = cancelOnClose{resp.Body, cancel}
	return resp, nil
}

type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}

// maxCerts bounds the certificate cache: SNS signs with one certificate
// per region at a time, and rotates it now and then.
const maxCerts = 64

// maxCertBytes bounds a certificate's PEM.
const maxCertBytes = 64 << 10

// certCache keeps the public keys of the SNS signing certificates by
// URL, until the certificate expires or, beyond maxCerts, the oldest goes.
type certCache struct {
	client *http.Client
	mu     sync.Mutex
	certs  map[string]*x509.Certificate
	order  []string
}

func newCertCache(c *http.Client) *certCache {
	return &certCache{client: c, certs: make(map[string]*x509.Certificate)}
}

// key returns the RSA key of the certificate at u, valid at now.
func (c *certCache) key(ctx context.Context, u string, now time.Time) (*rsa.PublicKey, error) {
	c.mu.Lock()
	cert := c.certs[u]
	c.mu.Unlock()
	if cert == nil || now.After(cert.NotAfter) {
		var err error
		if cert, err = c.fetch(ctx, u); err != nil {
			return nil, err
		}
		c.put(u, cert)
	}
	if now.Before(cert.NotBefore) || now.After(cert.NotAfter) {
		return nil, fmt.Errorf("%w: the certificate at %s is not valid now", errSignature, u)
	}
	key, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: the certificate at %s has no RSA key", errSignature, u)
	}
	return key, nil
}

func (c *certCache) fetch(ctx context.Context, u string) (*x509.Certificate, error) {
	resp, err := fetch(ctx, c.client, u)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxCertBytes))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errFetch, err)
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%w: %s holds no PEM certificate", errSignature, u)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", errSignature, u, err)
	}
	return cert, nil
}

func (c *certCache) put(u string, cert *x509.Certificate) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.certs[u]; !ok {
		c.order = append(c.order, u)
	}
	c.certs[u] = cert
	for len(c.order) > maxCerts {
		delete(c.certs, c.order[0])
		c.order = c.order[1:]
	}
}
