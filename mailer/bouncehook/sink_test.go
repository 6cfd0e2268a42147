package bouncehook_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/invitekit/invites/mailer/bouncehook"
)

// sink records the notices it is given, or fails with err.
type sink struct {
	mu      sync.Mutex
	notices []bouncehook.Notice
	err     error
}

func (s *sink) Bounce(_ context.Context, n bouncehook.Notice) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	s.notices = append(s.notices, n)
	return nil
}

func (s *sink) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err = err
}

func (s *sink) got() []bouncehook.Notice {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]bouncehook.Notice(nil), s.notices...)
}

// post sends body to h with the headers and returns the status code.
func post(t *testing.T, h http.Handler, target, body string, header http.Header) int {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, target, strings.NewReader(body))
	for k, v := range header {
		r.Header[k] = v
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Code
}

// takenOnce checks that a request whose Sink fails is answered 503, and
// that, the Sink mended, the request sent times more passes its want
// notices on once: the provider's retry goes through, copies do not.
func takenOnce(t *testing.T, sk *sink, send func() int, times, want int) {
	t.Helper()
	sk.fail(errors.New("store down"))
	if code := send(); code != http.StatusServiceUnavailable {
		t.Fatalf("with the sink failing: status %d, want 503", code)
	}
	sk.fail(nil)
	for range times {
		if code := send(); code != http.StatusOK {
			t.Fatalf("status %d", code)
		}
	}
	if n := sk.got(); len(n) != want {
		t.Fatalf("the sink heard %d notices, want the retry's %d: %+v", len(n), want, n)
	}
}

// wantNotices fails t unless got is want, in order.
func wantNotices(t *testing.T, got, want []bouncehook.Notice) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d notices %+v, want %d %+v", len(got), got, len(want), want)
	}
	for i := range want {
		if !got[i].At.Equal(want[i].At) {
			t.Errorf("notice %d At = %v, want %v", i, got[i].At, want[i].At)
		}
		g := got[i]
		g.At = want[i].At // compared above, as instants
		if g != want[i] {
			t.Errorf("notice %d = %+v\nwant %+v", i, g, want[i])
		}
	}
}

// oversized is a body just past MaxBodyBytes.
var oversized = "[" + strings.Repeat(" ", bouncehook.MaxBodyBytes) + "]"

func TestHandlersTakeOnlyPOST(t *testing.T) {
	sk := &sink{}
	sns, err := bouncehook.NewSNS(bouncehook.SNSConfig{Sink: sk, TopicARNs: []string{snsTopic}})
	if err != nil {
		t.Fatal(err)
	}
	postmark, err := bouncehook.NewPostmark(bouncehook.PostmarkConfig{Sink: sk, PathSecret: "p4th"})
	if err != nil {
		t.Fatal(err)
	}
	mailgun, err := bouncehook.NewMailgun(bouncehook.MailgunConfig{Sink: sk, SigningKey: mailgunKey})
	if err != nil {
		t.Fatal(err)
	}
	for name, h := range map[string]http.Handler{
		"sns": sns, "postmark": postmark, "sendgrid": newSendGrid(t, sk, newSendGridKey(t).pub), "mailgun": mailgun,
	} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/hooks/p4th", nil))
		if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != http.MethodPost {
			t.Errorf("%s: GET answered %d, Allow %q", name, w.Code, w.Header().Get("Allow"))
		}
	}
}
