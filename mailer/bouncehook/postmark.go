package bouncehook

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"path"
)

// PostmarkConfig sets up the handler for Postmark's Bounce and Spam
// Complaint webhooks. Postmark signs nothing: the handler takes a request
// by HTTP basic auth (put the user and password in the webhook's URL or
// its settings), by a secret last path segment, or both, and Sink and at
// least one of them are required.
type PostmarkConfig struct {
	Sink Sink
	// Username and Password, when Password is set, are the basic auth a
	// request must carry.
	Username, Password string
	// PathSecret, when set, must be the request path's last segment: mount
	// the handler at "POST /hooks/postmark/{secret}" and give Postmark the
	// URL with the secret.
	PathSecret string
}

// Postmark is the http.Handler for Postmark's Bounce and Spam Complaint
// webhooks: a Bounce record of a hard type (HardBounce, BadEmailAddress,
// ManuallyDeactivated) and a SpamComplaint record become a Notice; other
// bounce types are soft or not bounces and are acknowledged unheard. A
// record's ID is taken once.
//
// Postmark reports its own MessageID, not the email's Message-ID: the
// Notice has the email's only when it reached Postmark as the metadata
// "message-id" (an X-PM-Metadata-message-id header), else Postmark's.
type Postmark struct {
	cfg  PostmarkConfig
	seen *recent
}

// NewPostmark returns the Postmark handler.
func NewPostmark(cfg PostmarkConfig) (*Postmark, error) {
	if cfg.Sink == nil {
		return nil, errors.New("bouncehook: PostmarkConfig.Sink is required")
	}
	if cfg.Password == "" && cfg.PathSecret == "" {
		return nil, errors.New("bouncehook: PostmarkConfig needs a Password or a PathSecret")
	}
	return &Postmark{cfg: cfg, seen: newRecent(0, rememberEvents, true)}, nil
}

// postmarkHard are the bounce types that say the address takes no mail.
var postmarkHard = map[string]bool{"HardBounce": true, "BadEmailAddress": true, "ManuallyDeactivated": true}

// postmarkRecord is the part of a Bounce or SpamComplaint webhook read.
type postmarkRecord struct {
	RecordType  string
	ID          json.Number
	Type        string
	MessageID   string
	Description string
	Details     string
	Email       string
	BouncedAt   string
	Metadata    map[string]string
}

// ServeHTTP answers 200 for a record taken or ignored, 401 without the
// credentials, 403 for a body that is no Postmark record (Postmark stops
// retrying on 403), 413 beyond MaxBodyBytes and 503 when the Sink
// failed, which Postmark retries.
func (h *Postmark) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !h.authorized(r) {
		if h.cfg.Password != "" {
			w.Header().Set("WWW-Authenticate", `Basic realm="bouncehook", charset="UTF-8"`)
		}
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	var rec postmarkRecord
	if err := json.Unmarshal(body, &rec); err != nil || rec.RecordType == "" {
		http.Error(w, "not a Postmark webhook record", http.StatusForbidden)
		return
	}
	n := Notice{
		Provider:  ProviderPostmark,
		Address:   rec.Email,
		MessageID: firstOf(rec.Metadata["message-id"], rec.MessageID),
		Reason:    firstOf(rec.Details, rec.Description, rec.Type),
		At:        parseTime(rec.BouncedAt),
	}
	if rec.ID != "" {
		n.EventID = rec.RecordType + "/" + rec.ID.String()
	}
	e := event{id: n.EventID}
	switch {
	case rec.RecordType == "Bounce" && postmarkHard[rec.Type]:
		n.Kind = KindBounce
		e.notices = []Notice{n}
	case rec.RecordType == "SpamComplaint":
		n.Kind = KindComplaint
		e.notices = []Notice{n}
	}
	deliver(w, r, h.cfg.Sink, h.seen, []event{e})
}

// authorized checks each credential configured, in constant time.
func (h *Postmark) authorized(r *http.Request) bool {
	ok := true
	if h.cfg.Password != "" {
		user, pass, _ := r.BasicAuth()
		ok = equal(user, h.cfg.Username) && equal(pass, h.cfg.Password)
	}
	if h.cfg.PathSecret != "" {
		ok = equal(path.Base(r.URL.Path), h.cfg.PathSecret) && ok
	}
	return ok
}

// equal compares a secret in time independent of where they differ.
func equal(got, want string) bool {
	return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}
