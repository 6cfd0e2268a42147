package httpadapter

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestRoutes(t *testing.T) {
	for _, c := range apiCases() {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			w := e.do(c.call(e))
			if w.Code != c.status {
				t.Fatalf("status %d, want %d; body %s", w.Code, c.status, w.Body)
			}
			if c.code == "" {
				if ct := w.Header().Get("Content-Type"); ct != "application/json" && ct != "application/yaml" {
					t.Errorf("Content-Type %q", ct)
				}
				return
			}
			p := decodeProblem(t, w)
			if p.Code != c.code || p.Status != c.status || p.Field != c.field {
				t.Errorf("problem %+v, want code %s, status %d, field %q", p, c.code, c.status, c.field)
			}
			if p.Type != "about:blank" || p.Title == "" || p.Detail == "" {
				t.Errorf("problem %+v lacks type, title or detail", p)
			}
			if w.Header().Get("Cache-Control") != "no-store" {
				t.Error("a problem may be cached")
			}
			if c.status == 500 {
				if strings.Contains(w.Body.String(), "10.1.2.3") || strings.Contains(w.Body.String(), "refused") {
					t.Errorf("500 shows internals: %s", w.Body)
				}
				if logs := e.logs.String(); !strings.Contains(logs, errStoreDown.Error()) {
					t.Errorf("500 not logged with its cause: %q", logs)
				}
			}
		})
	}
}

// decodeJSON reads a JSON response body into v.
func decodeJSON(t *testing.T, body []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
}
