package invites_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/invitekit/invites"
	"github.com/invitekit/invites/token"
)

// A Message, which carries the token twice (Token, and AcceptURL's link),
// prints, logs and marshals without it.
func TestMessageRedacted(t *testing.T) {
	tok, _, _ := token.Issuer{}.New()
	secret := tok.Reveal()
	msg := invites.Message{Token: tok, AcceptURL: "https://x/?t=" + secret}
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	log.Info("minted", "token", tok, "msg", msg)
	js, _ := json.Marshal(msg)
	out := buf.String() + string(js) + fmt.Sprintf("%v %+v %#v", msg, msg, msg)
	if strings.Contains(out, secret) {
		t.Fatalf("token leaked: %s", out)
	}
	if !strings.Contains(out, token.Redacted) {
		t.Fatalf("no %s in %s", token.Redacted, out)
	}
}
