package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/invitekit/invites"
	"github.com/invitekit/invites/internal/syncbuf"
	"github.com/invitekit/invites/internal/testdb"
)

// demo is a running demo server.
type demo struct {
	base string
	out  *syncbuf.Buffer
}

var listening = regexp.MustCompile(`listening on (http://\S+)`)

// start runs the demo in-process on a free port with args, until the test
// ends; then run must return nil soon after its context is canceled.
func start(t *testing.T, args ...string) demo {
	t.Helper()
	out := &syncbuf.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, append([]string{"-addr", "127.0.0.1:0"}, args...), out) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run after cancel: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("run did not return within 10s of cancel")
		}
	})
	deadline := time.After(30 * time.Second)
	for {
		if m := listening.FindStringSubmatch(out.String()); m != nil {
			return demo{base: m[1], out: out}
		}
		select {
		case err := <-done:
			t.Fatalf("run ended before listening: %v\n%s", err, out)
		case <-deadline:
			t.Fatalf("not listening after 30s:\n%s", out)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// link waits for the worker to print the email to addr and returns its
// accept link.
func (d demo) link(t *testing.T, addr string) string {
	t.Helper()
	return d.nthLink(t, addr, 1)
}

// nthLink waits for the worker to print the nth email to addr (1 for the
// first) and returns its accept link.
func (d demo) nthLink(t *testing.T, addr string, n int) string {
	t.Helper()
	re := regexp.MustCompile(`To: ` + regexp.QuoteMeta(addr) + `\n(?s:.*?)\n(http://\S+/invite\?token=\S+)`)
	for range 1000 {
		if m := re.FindAllStringSubmatch(d.out.String(), n); len(m) == n {
			return m[n-1][1]
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no email %d to %s printed in 20s:\n%s", n, addr, d.out)
	return ""
}

// do sends a request, following redirects, and returns the status and
// body.
func do(t *testing.T, method, u, ctype, body string, header ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	code, _, b := send(t, http.DefaultClient, req)
	return code, b
}

// send sends req with client and returns the status, Location and body.
func send(t *testing.T, client *http.Client, req *http.Request) (int, string, string) {
	t.Helper()
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, res.Header.Get("Location"), string(b)
}

// TestBadFlags: every flag is checked before the port is bound, so a
// mistake is told as such even while the port is taken (as the README's
// first step leaves a demo on :8080).
func TestBadFlags(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	taken := []string{"-addr", ln.Addr().String(), "-db", filepath.Join(t.TempDir(), "d.db")}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-nope"}, "flag provided but not defined"},
		{[]string{"-smtp", "mail.example"}, "-smtp"},
		{[]string{"-postgres", "mysql://x"}, "postgres://"},
		{[]string{"stray"}, `unexpected argument "stray"`},
		{[]string{"-host", "demo.example"}, "-host"},
		{[]string{"-retention", "1h"}, "-retention 1h"},
		{[]string{"-addr", "127.0.0.1:99999"}, "-addr 127.0.0.1:99999: address 99999: invalid port"},
		{[]string{"-addr", "localhost"}, "-addr localhost: address localhost: missing port"},
	} {
		err := run(t.Context(), append(slices.Clone(taken), c.args...), io.Discard)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("run(%q) = %v, want an error containing %q", c.args, err, c.want)
		}
	}
}

// TestSendAcceptByHTTP walks the pages and the API the way the browser
// test does, without a browser, on SQLite and PostgreSQL.
func TestSendAcceptByHTTP(t *testing.T) {
	t.Run("SQLite", func(t *testing.T) {
		sendAccept(t, start(t, "-db", filepath.Join(t.TempDir(), "demo.db")))
	})
	t.Run("PostgreSQL", func(t *testing.T) {
		db := testdb.Postgres(t)
		var schema string
		if err := db.QueryRowContext(t.Context(), "SELECT current_schema()").Scan(&schema); err != nil {
			t.Fatal(err)
		}
		dsn, err := testdb.WithParams(testdb.PostgresDSN(t), "search_path", schema)
		if err != nil {
			t.Fatal(err)
		}
		sendAccept(t, start(t, "-postgres", dsn))
	})
}

func sendAccept(t *testing.T, d demo) {
	if code, body := do(t, "GET", d.base+"/", "", ""); code != 200 || !strings.Contains(body, "Send invites") {
		t.Fatalf("GET / = %d\n%s", code, body)
	}
	if code, body := do(t, "GET", d.base+"/demo/email", "", ""); code != 404 || !strings.Contains(body, "No email yet") {
		t.Fatalf("GET /demo/email before any = %d\n%s", code, body)
	}
	// Without the trailing slash, as a newcomer types it.
	code, body := do(t, "POST", d.base+"/api/invites", "application/json",
		`{"userInvites":[{"email":"ann@example.com","roles":["member"]},{"email":"not an address"}]}`)
	var sent struct {
		Success []invites.Invite
		Errors  []invites.ItemError
	}
	if err := json.Unmarshal([]byte(body), &sent); code != 200 || err != nil || len(sent.Success) != 1 || len(sent.Errors) != 1 {
		t.Fatalf("send = %d %v\n%s", code, err, body)
	}
	id := sent.Success[0].ID.String()

	link := d.link(t, "ann@example.com")
	// The send page's link to the last email printed: ann's, its link a
	// click away.
	if code, body := do(t, "GET", d.base+"/demo/email", "", ""); code != 200 || !strings.Contains(body, "To: ann@example.com") ||
		!strings.Contains(body, `id="email-link" class="button primary" href="`+link+`"`) {
		t.Fatalf("GET /demo/email = %d\n%s", code, body)
	}
	if code, body := do(t, "GET", link, "", ""); code != 200 || !strings.Contains(body, "ann@example.com</bdi></strong> is invited") ||
		!strings.Contains(body, `id="accept"`) {
		t.Fatalf("landing = %d\n%s", code, body)
	}
	tok := strings.TrimPrefix(link, d.base+landingPath+"?token=")
	form, cookie := landingForm(t, link)
	// The accept leads to the demo's welcome page, which do follows.
	if code, body := do(t, "POST", d.base+landingPath, formType, form.Encode(), "X-Demo-User", "ann", "Cookie", cookie); code != 200 ||
		!strings.Contains(body, "Invitation accepted") || !strings.Contains(body, "member of <strong><bdi>acme</bdi>") {
		t.Fatalf("accept = %d\n%s", code, body)
	}
	form.Set("action", "decline")
	if code, body := do(t, "POST", d.base+landingPath, formType, form.Encode(), "Cookie", cookie); code != 409 || !strings.Contains(body, "already been accepted") {
		t.Fatalf("decline after accept = %d\n%s", code, body)
	}
	// The used link tells its status, not who was invited.
	if code, body := do(t, "GET", link, "", ""); code != 200 || strings.Contains(body, "ann@example.com") || !strings.Contains(body, `data-state="accepted"`) {
		t.Fatalf("landing of the used link = %d\n%s", code, body)
	}
	if code, body := do(t, "GET", d.base+landingPath+"?token=nope", "", ""); code != 404 || !strings.Contains(body, "Invalid link") {
		t.Fatalf("landing of a bad token = %d\n%s", code, body)
	}

	code, body = do(t, "GET", d.base+"/api/invites/"+id, "", "")
	var inv invites.Invite
	if err := json.Unmarshal([]byte(body), &inv); code != 200 || err != nil || inv.Status != invites.StatusAccepted || inv.AcceptedByUserID != "ann" {
		t.Fatalf("GET the invite = %d %v\n%s", code, err, body)
	}
	// Another demo tenant sees none of acme's invites.
	if code, body := do(t, "GET", d.base+"/api/invites/"+id, "", "", "X-Demo-Tenant", "globex"); code != 404 {
		t.Fatalf("GET as another tenant = %d\n%s", code, body)
	}
	// The status panel's figures count the actor's tenant's invites only:
	// another tenant's are all nought, store-wide outbox figures included.
	if code, body := do(t, "GET", d.base+"/demo/status", "", "", "X-Demo-Tenant", "acme"); code != 200 ||
		!strings.Contains(body, `"accepted":1`) || !strings.Contains(body, `"queued":`) {
		t.Errorf("status as acme = %d %s, want accepted 1", code, body)
	}
	const nought = `{"invites":{"accepted":0,"canceled":0,"declined":0,"expired":0,"pending":0},"queued":0,"failed":0}`
	if code, body := do(t, "GET", d.base+"/demo/status", "", "", "X-Demo-Tenant", "globex"); code != 200 || body != nought {
		t.Errorf("status as globex = %d %s, want %s", code, body, nought)
	}
	if code, body := do(t, "GET", d.base+"/readyz", "", ""); code != 200 || body != `{"status":"ok"}` {
		t.Errorf("GET /readyz = %d %s", code, body)
	}
	// The metrics, in Prometheus format: the send and accept counted, the
	// outbox's gauges read at the scrape, and no address among them.
	code, body = do(t, "GET", d.base+"/metrics", "", "")
	for _, want := range []string{`invites_events_total{`, `invites_event_type="created"`, `invites_event_type="accepted"`,
		`invites_operation_duration_seconds_count{`, `invites_operation_name="send"`, "invites_outbox_queued", "invites_events_unhandled", `service_name="invites-demo"`} {
		if code != 200 || !strings.Contains(body, want) {
			t.Errorf("GET /metrics = %d, without %s:\n%s", code, want, body)
			break
		}
	}
	if strings.Contains(body, "ann@example.com") || strings.Contains(body, tok) {
		t.Error("the metrics carry the address or the token")
	}
	// The token is printed in the email's text only, once: no log line
	// carries it.
	if n := strings.Count(d.out.String(), tok); n != 1 {
		t.Errorf("the token appears %d times in the output, want once (the email's text):\n%s", n, d.out)
	}
}

func TestDemoActor(t *testing.T) {
	r, _ := http.NewRequest("GET", "/", nil)
	if a := demoActor(r); a.UserID != demoUser || a.TenantID != demoTenant || !slices.Equal(a.Roles, []string{demoAdmin}) {
		t.Errorf("default actor = %+v", a)
	}
	r.Header.Set("X-Demo-User", " bob ")
	r.Header.Set("X-Demo-Tenant", "globex")
	r.Header.Set("X-Demo-Roles", "viewer, ,editor")
	if a := demoActor(r); a.UserID != "bob" || a.TenantID != "globex" || !slices.Equal(a.Roles, []string{"viewer", "editor"}) {
		t.Errorf("actor from headers = %+v", a)
	}
	admin := invites.Actor{Roles: []string{demoAdmin}}
	viewer := invites.Actor{Roles: []string{"viewer"}}
	if !canGrant(admin, demoMember) || !canGrant(admin, demoAdmin) || canGrant(admin, "owner") ||
		!canGrant(viewer, "viewer") || canGrant(viewer, demoMember) {
		t.Error("canGrant: an admin grants admin and member, others only their own roles")
	}
}

// TestDemoJoiner: a joiner's address is verified only when the header
// says true, and without X-Demo-Email there is none.
func TestDemoJoiner(t *testing.T) {
	r, _ := http.NewRequest("POST", "/", nil)
	if j, err := demoJoiner(r); err != nil || j != (invites.Joiner{UserID: demoUser}) {
		t.Errorf("default joiner = %+v, %v", j, err)
	}
	r.Header.Set("X-Demo-User", "bea")
	r.Header.Set("X-Demo-Email", " bea@example.com ")
	for v, verified := range map[string]bool{"": false, "yes": false, "true": true} {
		r.Header.Set("X-Demo-Email-Verified", v)
		if j, _ := demoJoiner(r); j != (invites.Joiner{UserID: "bea", Email: "bea@example.com", EmailVerified: verified}) {
			t.Errorf("X-Demo-Email-Verified %q: joiner = %+v", v, j)
		}
	}
}

// The -postgres DSN's query reaches pgx as written: percent-escapes stay
// as they are (pgx, like libpq, reads no + as a space), so a parameter
// with a space in it, such as application_name or options=-c%20x%3Dy,
// arrives whole.
func TestPostgresDSNPassesThrough(t *testing.T) {
	db := testdb.Postgres(t)
	var schema string
	if err := db.QueryRowContext(t.Context(), "SELECT current_schema()").Scan(&schema); err != nil {
		t.Fatal(err)
	}
	dsn := testdb.SchemaDSN(t, schema)
	if strings.Contains(dsn, "?") {
		dsn += "&application_name=invites%20demo"
	} else {
		dsn += "?application_name=invites%20demo"
	}
	demoDB, err := openDB(t.Context(), options{postgres: dsn})
	if err != nil {
		t.Fatal(err)
	}
	defer demoDB.Close()
	var name string
	if err := demoDB.QueryRowContext(t.Context(), "SHOW application_name").Scan(&name); err != nil || name != "invites demo" {
		t.Fatalf("application_name = %q, %v; want %q", name, err, "invites demo")
	}
}
