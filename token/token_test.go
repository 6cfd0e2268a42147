package token_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/invitekit/invites/token"
)

func TestNewAndDigest(t *testing.T) {
	var iss token.Issuer
	seen := map[string]bool{}
	for range 100 {
		tok, dig, err := iss.New()
		if err != nil {
			t.Fatal(err)
		}
		s := tok.Reveal()
		if len(s) != token.Len || seen[s] {
			t.Fatalf("bad or repeated token %q", s)
		}
		seen[s] = true
		if len(dig) != 32 {
			t.Fatalf("digest len %d", len(dig))
		}
		again, err := iss.Digest(s)
		if err != nil || !bytes.Equal(again, dig) {
			t.Fatalf("Digest(%q) = %x, %v; want %x", s, again, err, dig)
		}
		if bytes.Contains(dig, []byte(s)) {
			t.Fatal("digest holds the token")
		}
	}
}

func TestDigestRejectsMalformed(t *testing.T) {
	var iss token.Issuer
	tok, _, _ := iss.New()
	good := tok.Reveal()
	for _, bad := range []string{
		"", "short", good + "A", good[:42], strings.Repeat("!", 43),
		good[:42] + "=", good[:42] + "+", good[:10] + " " + good[11:],
		// 43 chars whose last one sets bits past 256: not canonical.
		strings.Repeat("A", 42) + "B",
	} {
		if _, err := iss.Digest(bad); !errors.Is(err, token.ErrInvalid) {
			t.Errorf("Digest(%q) err = %v, want ErrInvalid", bad, err)
		}
	}
}

func TestTokenRedacted(t *testing.T) {
	tok, _, _ := token.Issuer{}.New()
	secret := tok.Reveal()
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	log.Info("minted", "token", tok, "in", struct{ Token token.Token }{tok})
	js, _ := json.Marshal(struct{ Token token.Token }{tok})
	out := buf.String() + string(js) + fmt.Sprintf("%v %s %+v %#v %q", tok, tok, tok, tok, tok)
	if strings.Contains(out, secret) {
		t.Fatalf("token leaked: %s", out)
	}
	if !strings.Contains(out, token.Redacted) {
		t.Fatalf("no %s in %s", token.Redacted, out)
	}
}

func TestCanonicalAccepted(t *testing.T) {
	if _, err := (token.Issuer{}).Digest(strings.Repeat("A", 43)); err != nil {
		t.Fatal(err)
	}
}
