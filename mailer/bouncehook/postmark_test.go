package bouncehook_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/invitekit/invites/mailer/bouncehook"
)

// Postmark's documented Bounce and SpamComplaint webhook samples.
const (
	postmarkBounce = `{
  "RecordType": "Bounce",
  "MessageStream": "outbound",
  "ID": 4323372036854775807,
  "Type": "HardBounce",
  "TypeCode": 1,
  "Name": "Hard bounce",
  "Tag": "Test",
  "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
  "Metadata" : {"a_key" : "a_value", "b_key": "b_value"},
  "ServerID": 23,
  "Description": "The server was unable to deliver your message (ex: unknown user, mailbox not found).",
  "Details": "Test bounce details",
  "Email": "john@example.com",
  "From": "sender@example.com",
  "BouncedAt": "2019-11-05T16:33:54.9070259Z",
  "DumpAvailable": true,
  "Inactive": true,
  "CanActivate": true,
  "Subject": "Test subject",
  "Content": "<Full dump of bounce>"
}`
	postmarkComplaint = `{
  "RecordType": "SpamComplaint",
  "MessageStream": "outbound",
  "ID": 42,
  "Type": "SpamComplaint",
  "TypeCode": 512,
  "Name": "Spam complaint",
  "Tag": "Test",
  "MessageID": "00000000-0000-0000-0000-000000000000",
  "Metadata" : {"a_key" : "a_value", "b_key": "b_value"},
  "ServerID": 1234,
  "Description": "",
  "Details": "Test spam complaint details",
  "Email": "john@example.com",
  "From": "sender@example.com",
  "BouncedAt": "2019-11-05T16:33:54.9070259Z",
  "DumpAvailable": true,
  "Inactive": true,
  "CanActivate": false,
  "Subject": "Test subject",
  "Content": "<Abuse report dump>"
}`
)

var postmarkAt = time.Date(2019, 11, 5, 16, 33, 54, 907025900, time.UTC)

func basicAuth(user, pass string) http.Header {
	r, _ := http.NewRequest(http.MethodPost, "/", nil)
	r.SetBasicAuth(user, pass)
	return r.Header
}

func TestPostmarkPassesOnHardBouncesAndComplaints(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		want       []bouncehook.Notice
	}{
		{"hard bounce", postmarkBounce, []bouncehook.Notice{{
			Provider: "postmark", Kind: bouncehook.KindBounce, Address: "john@example.com",
			MessageID: "883953f4-6105-42a2-a16a-77a8eac79483", EventID: "Bounce/4323372036854775807",
			Reason: "Test bounce details", At: postmarkAt,
		}}},
		{"bad address", strings.Replace(postmarkBounce, `"HardBounce"`, `"BadEmailAddress"`, 1), []bouncehook.Notice{{
			Provider: "postmark", Kind: bouncehook.KindBounce, Address: "john@example.com",
			MessageID: "883953f4-6105-42a2-a16a-77a8eac79483", EventID: "Bounce/4323372036854775807",
			Reason: "Test bounce details", At: postmarkAt,
		}}},
		{"Message-ID in metadata", strings.Replace(postmarkBounce, `"a_key" : "a_value"`, `"message-id": "<d1@mail.acme.test>"`, 1), []bouncehook.Notice{{
			Provider: "postmark", Kind: bouncehook.KindBounce, Address: "john@example.com",
			MessageID: "<d1@mail.acme.test>", EventID: "Bounce/4323372036854775807",
			Reason: "Test bounce details", At: postmarkAt,
		}}},
		{"spam complaint", postmarkComplaint, []bouncehook.Notice{{
			Provider: "postmark", Kind: bouncehook.KindComplaint, Address: "john@example.com",
			MessageID: "00000000-0000-0000-0000-000000000000", EventID: "SpamComplaint/42",
			Reason: "Test spam complaint details", At: postmarkAt,
		}}},
		{"soft bounce", strings.Replace(postmarkBounce, `"HardBounce"`, `"SoftBounce"`, 1), nil},
		{"transient", strings.Replace(postmarkBounce, `"HardBounce"`, `"Transient"`, 1), nil},
		{"delivery", `{"RecordType": "Delivery", "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483", "Recipient": "john@example.com"}`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sk := &sink{}
			h, err := bouncehook.NewPostmark(bouncehook.PostmarkConfig{Sink: sk, Username: "pm", Password: "s3cret"})
			if err != nil {
				t.Fatal(err)
			}
			if code := post(t, h, "/hooks/postmark", tc.body, basicAuth("pm", "s3cret")); code != http.StatusOK {
				t.Fatalf("status %d", code)
			}
			wantNotices(t, sk.got(), tc.want)
		})
	}
}

func TestPostmarkRefusesWithoutItsCredentials(t *testing.T) {
	both := bouncehook.PostmarkConfig{Username: "pm", Password: "s3cret", PathSecret: "p4th"}
	for _, tc := range []struct {
		name   string
		cfg    bouncehook.PostmarkConfig
		target string
		header http.Header
		body   string
		code   int
	}{
		{"no auth", bouncehook.PostmarkConfig{Username: "pm", Password: "s3cret"}, "/hooks/postmark", nil, postmarkBounce, http.StatusUnauthorized},
		{"wrong password", bouncehook.PostmarkConfig{Username: "pm", Password: "s3cret"}, "/hooks/postmark", basicAuth("pm", "s3cre"), postmarkBounce, http.StatusUnauthorized},
		{"wrong user", bouncehook.PostmarkConfig{Username: "pm", Password: "s3cret"}, "/hooks/postmark", basicAuth("p", "s3cret"), postmarkBounce, http.StatusUnauthorized},
		{"wrong path secret", bouncehook.PostmarkConfig{PathSecret: "p4th"}, "/hooks/postmark/p4tx", nil, postmarkBounce, http.StatusUnauthorized},
		{"path secret not last", bouncehook.PostmarkConfig{PathSecret: "p4th"}, "/hooks/p4th/postmark", nil, postmarkBounce, http.StatusUnauthorized},
		{"path secret without basic auth", both, "/hooks/postmark/p4th", nil, postmarkBounce, http.StatusUnauthorized},
		{"basic auth without path secret", both, "/hooks/postmark/x", basicAuth("pm", "s3cret"), postmarkBounce, http.StatusUnauthorized},
		{"not a record", bouncehook.PostmarkConfig{PathSecret: "p4th"}, "/hooks/postmark/p4th", nil, `[1]`, http.StatusForbidden},
		{"too large", bouncehook.PostmarkConfig{PathSecret: "p4th"}, "/hooks/postmark/p4th", nil, oversized, http.StatusRequestEntityTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sk := &sink{}
			tc.cfg.Sink = sk
			h, err := bouncehook.NewPostmark(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if code := post(t, h, tc.target, tc.body, tc.header); code != tc.code {
				t.Errorf("status %d, want %d", code, tc.code)
			}
			if n := sk.got(); len(n) != 0 {
				t.Errorf("the sink heard %+v", n)
			}
		})
	}
}

func TestPostmarkTakesARecordOnce(t *testing.T) {
	sk := &sink{}
	h, err := bouncehook.NewPostmark(bouncehook.PostmarkConfig{Sink: sk, Username: "pm", Password: "s3cret", PathSecret: "p4th"})
	if err != nil {
		t.Fatal(err)
	}
	auth := basicAuth("pm", "s3cret")
	takenOnce(t, sk, func() int { return post(t, h, "/hooks/postmark/p4th", postmarkComplaint, auth) }, 3, 1)
}

func TestNewPostmarkWantsSinkAndACredential(t *testing.T) {
	for _, cfg := range []bouncehook.PostmarkConfig{{Password: "x"}, {Sink: &sink{}}, {Sink: &sink{}, Username: "pm"}} {
		if _, err := bouncehook.NewPostmark(cfg); err == nil {
			t.Errorf("NewPostmark(%+v) = nil error", cfg)
		}
	}
}
