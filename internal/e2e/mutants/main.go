// Command mutants measures how well the conformance suite (store/storetest)
// catches broken stores. Each mutant is memstore with one promise of the
// Store contract (store.go) broken by a one-snippet edit; the suite, run on
// the mutant, should fail ("killed"). A mutant it passes ("survived") is
// either equivalent (memstore cannot reach the difference) or a gap in the
// suite.
//
// Run it from the repository root:
//
//	go run ./internal/e2e/mutants
//
// or, for the mutants whose name starts with a prefix, with that prefix
// as its argument (go run ./internal/e2e/mutants link-).
//
// It edits nothing in the tree: each mutant is handed to the go command as
// a build overlay (go help build, -overlay) from a temporary directory it
// removes. A snippet that is not found exactly once, a baseline that does
// not pass, or a mutant that does not compile stops it with an error, so
// the table cannot rot silently. Neither go test nor CI runs it.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"text/tabwriter"
	"time"
)

// mutant is one deliberate break of memstore.
type mutant struct {
	name   string
	breaks string // the promise of store.go it breaks
	file   string // under store/memstore
	old    string // found exactly once in file
	new    string
}

var mutants = []mutant{
	{"change-skip-from", "Change without Decide applies the Edit whatever the stored status (From)", "change.go",
		"!slices.Contains(p.From, r.inv.Status) || p.Live", "false && !slices.Contains(p.From, r.inv.Status) || p.Live"},
	{"change-live-boundary", "Live takes an invite as live at exactly its ExpiresAt", "change.go",
		"p.Live && !p.Now.Before(r.inv.ExpiresAt)", "p.Live && p.Now.After(r.inv.ExpiresAt)"},
	{"decide-error-ignored", "an error from Decide is not returned (the zero Edit is applied)", "change.go",
		"\t\t\tif err != nil {\n\t\t\t\treturn e, nil, err\n\t\t\t}\n\t\t}\n\t\tvar holder", "\t\t\tif err != nil {\n\t\t\t\treturn e, nil, nil\n\t\t\t}\n\t\t}\n\t\tvar holder"},
	{"decide-stale-counts", "Decide's counts are not retaken under the lock: a send made while Decide ran is missed", "change.go",
		"p.Decide == nil || now.AddressSends == f.AddressSends && now.AllTenantSends == f.AllTenantSends && now.UserSends == f.UserSends && now.TenantPending == f.TenantPending && now.Suppressed == f.Suppressed {", "now.AddressSends >= 0 {"},
	{"user-sends-any-actor", "Facts.UserSends counts the sends of every user of the tenant, not ActorID's", "ledger.go",
		"r.actor == user && r.at.After(since)", "r.at.After(since)"},
	{"status-updated-always", "StatusUpdatedAt becomes Now on every change, not only when Status changes", "change.go",
		"\tinv.UpdatedAt = now\n\treturn inv", "\tinv.UpdatedAt, inv.StatusUpdatedAt = now, now\n\treturn inv"},
	{"updated-at-kept", "a change leaves UpdatedAt as it was", "change.go",
		"\tinv.UpdatedAt = now\n\treturn inv", "\treturn inv"},
	{"event-wrong-actor", "the change's event is written with no actor instead of ActorID", "change.go",
		"s.emit(r, e.Event, p.ActorID, p.Now)", `s.emit(r, e.Event, "", p.Now)`},
	{"renew-keeps-tokens", "a resend leaves the old tokens valid", "change.go",
		"for _, d := range r.digests {\n\t\t\tdelete(s.digests, string(d))\n\t\t}\n\t\tr.digests = nil", ""},
	{"renew-no-supersede", "a resend leaves the queued delivery before it claimable and completable", "write.go",
		"delete(s.active, old)", "_ = old"},
	{"renew-ignores-live-holder", "a resend expires another live pending invite of the address instead of ErrAlreadyInvited", "change.go",
		"case h != nil && now.Before(h.inv.ExpiresAt):", "case h != nil && now.IsZero():"},
	{"hook-error-ignored", "an error from Hook neither undoes the change nor is returned", "change.go",
		"if err := s.callHook(ctx, p.Hook, clone(out)); err != nil {", "if err := s.callHook(ctx, p.Hook, clone(out)); err != nil && false {"},
	{"hook-sees-old", "Hook gets the invite as stored, not as changed", "change.go",
		"s.callHook(ctx, p.Hook, clone(out))", "s.callHook(ctx, p.Hook, clone(r.inv))"},
	{"insert-restamps", "Insert re-stamps CreatedAt and UpdatedAt with Now instead of storing them as given", "write.go",
		"r := &record{inv: clone(inv)}", "r := &record{inv: clone(inv)}\n\t\tr.inv.CreatedAt, r.inv.UpdatedAt = now, now"},
	{"insert-ignores-address-limit", "Insert ignores Quota.MaxSendsPerAddressPerDay", "write.go",
		"if s.addressLimit(q, inv.TenantID, key, now, batch) {", "if s.addressLimit(invites.Quota{MaxSendsPerAddressPerDayAllTenants: q.MaxSendsPerAddressPerDayAllTenants}, inv.TenantID, key, now, batch) {"},
	{"ignores-all-tenants-limit", "the address limit across tenants is never met", "ledger.go",
		"q.MaxSendsPerAddressPerDayAllTenants > 0 && all >=", "q.MaxSendsPerAddressPerDayAllTenants > 1<<30 && all >="},
	{"forget-erases-ledger", "Forget erases the send ledger, so the quotas forget the address's sends", "upkeep.go",
		"\ts.remove(rs)\n\tfor _, id := range ids {", "\ts.remove(rs)\n\tclear(s.ledger)\n\tfor _, id := range ids {"},
	{"prune-keeps-sends", "Prune never removes the ledger's sends", "upkeep.go",
		"res.Sends = s.pruneSends(p.SendsBefore, p.Limit)", "res.Sends = 0"},
	{"insert-keeps-stale-holder", "Insert frees the address of a pending invite past its expiry without marking it expired", "write.go",
		"\t\t\ts.expire(h, now)\n", "\t\t\ts.freeKey(h)\n"},
	{"claim-ignores-lease", "ClaimDeliveries hands out a delivery whose lease still runs (double claim)", "delivery.go",
		" || d.leaseUntil.After(p.Now)", ""},
	{"claim-keeps-nonpending", "ClaimDeliveries returns a delivery of an invite no longer pending", "delivery.go",
		" || r.inv.Status != invites.StatusPending", ""},
	{"release-ignores-claim", "ReleaseClaim ends the lease of a delivery another claim took since", "delivery.go",
		"d.claimID == p.ClaimID && !d.leaseUntil.IsZero()", "!d.leaseUntil.IsZero()"},
	{"release-keeps-tokens", "ReleaseClaim leaves the released claim's tokens valid", "delivery.go",
		"\t\tdelete(s.digests, string(digest))\n", ""},
	{"complete-stale-claim", "CompleteDeliveries checks an outcome's claim, then lets a Bounce commit before it writes the outcome over it", "delivery.go",
		"\t\tr := s.invites[sd.d.InviteID]\n", "\t\ts.mu.Unlock()\n\t\ttime.Sleep(time.Millisecond)\n\t\ts.mu.Lock()\n\t\tr := s.invites[sd.d.InviteID]\n"},
	{"complete-ignores-fence", "CompleteDeliveries (and RenewDeliveries) accept an outcome of a claim that no longer holds (Attempt)", "delivery.go",
		" || sd.d.Attempt != d.Attempt", ""},
	{"expiredue-ignores-limit", "ExpireDue expires every due invite, not up to Limit", "events.go",
		"due = due[:min(limit, len(due))]", "due = due[:min(limit+len(due), len(due))]"},
	{"claimevents-breaks-order", "ClaimEvents hands out later events of an invite beside or before its earliest", "events.go",
		"\t\tif h := q[0]; !h.due.After(now) && !h.lease.After(now) {\n\t\t\tdue = append(due, h)\n\t\t}",
		"\t\tfor _, h := range q {\n\t\t\tif !h.due.After(now) && !h.lease.After(now) {\n\t\t\t\tdue = append(due, h)\n\t\t\t}\n\t\t}"},
	{"completeevent-ignores-fence", "CompleteEvent accepts an event whose claim (Attempt) no longer holds", "events.go",
		" || q[0].e.Attempt != e.Attempt", ""},
	{"list-ignores-after", "List ignores the keyset position After", "list.go",
		"if p.After != nil {", "if p.After != nil && p.Limit < 0 {"},
	{"find-ignores-tenant", "Get, History and Change by ID find an invite of another tenant", "write.go",
		"if !ok || r.inv.TenantID != tenantID {", "if !ok {"},
	{"trace-dropped", "Insert does not keep InsertParams.Trace with the delivery", "write.go",
		"s.queue(r, dids[i], invites.KindInvitation, now, p.Trace)", `s.queue(r, dids[i], invites.KindInvitation, now, "")`},
	{"renew-trace-dropped", "a renewing Change does not keep Edit.Trace with its delivery", "change.go",
		"s.queue(r, did, invites.KindReminder, p.Now, e.Trace)", `s.queue(r, did, invites.KindReminder, p.Now, "")`},
	{"queued-at-unset", "a delivery does not carry QueuedAt", "write.go",
		"QueuedAt: now, Trace: trace", "Trace: trace"},
	{"event-id-reused", "an event written after a prune takes the ID of one before it", "events.go",
		"s.lastEvent++\n\te.ID = s.lastEvent", "e.ID = int64(len(s.events) + 1)"},
	{"stats-leased-as-due", "Stats counts a leased delivery as due", "upkeep.go",
		"if d.nextAttempt.After(p.Now) || d.leaseUntil.After(p.Now) {", "if d.nextAttempt.After(p.Now) {"},
	{"stats-age-from-queued", "Stats.OldestDueAge runs from when a retry was queued, not from when it came due", "upkeep.go",
		"p.Now.Sub(d.nextAttempt)", "p.Now.Sub(d.d.QueuedAt)"},
	{"stats-failing-unmarked", "Stats.Failing misses a delivery waiting for its retry", "delivery.go",
		"sd.nextAttempt, sd.leaseUntil, sd.failed = o.RetryAt, time.Time{}, true", "sd.nextAttempt, sd.leaseUntil, sd.failed = o.RetryAt, time.Time{}, false"},
	{"stats-unhandled-heads", "Stats.UnhandledEvents counts the invites with unhandled events, not the events", "upkeep.go",
		"st.UnhandledEvents += len(q)", "st.UnhandledEvents += min(len(q), 1)"},
	{"prune-ignores-cutoff", "Prune deletes ended invites however recently they ended", "upkeep.go",
		"r.inv.StatusUpdatedAt.Before(p.InvitesBefore)", "!r.inv.StatusUpdatedAt.IsZero()"},
	{"prune-cutoff-inclusive", "Prune deletes an invite that ended at InvitesBefore, not only before", "upkeep.go",
		"r.inv.StatusUpdatedAt.Before(p.InvitesBefore)", "!r.inv.StatusUpdatedAt.After(p.InvitesBefore)"},
	{"prune-removes-pending", "Prune deletes a pending invite past its expiry", "upkeep.go",
		"r.inv.Status != invites.StatusPending && ", ""},
	{"prune-ignores-limit", "Prune deletes every old invite, not up to Limit", "upkeep.go",
		"old = old[:min(p.Limit, len(old))]", "_ = p.Limit"},
	{"prune-unhandled-events", "Prune deletes events Config.OnEvent has not handled", "upkeep.go",
		"ev.handled && ev.e.At.Before(p.EventsBefore)", "ev.e.At.Before(p.EventsBefore)"},
	{"prune-events-ignore-cutoff", "Prune deletes handled events however recent", "upkeep.go",
		"ev.handled && ev.e.At.Before(p.EventsBefore)", "ev.handled"},
	{"prune-events-ignore-limit", "Prune deletes every old handled event, not up to Limit", "upkeep.go",
		"\t\t\tif len(gone) == p.Limit {\n\t\t\t\tbreak\n\t\t\t}\n", ""},
	{"delete-keeps-deliveries", "Prune and Forget leave the deliveries of a deleted invite queued", "upkeep.go",
		"\t\t\tdelete(s.deliveries, id)\n\t\t\tdelete(s.active, id)\n", "\t\t\t_ = id\n"},
	{"delete-keeps-events", "Prune and Forget leave the unhandled events of a deleted invite to ClaimEvents", "upkeep.go",
		"\t\tdelete(s.unhandled, id)\n", ""},
	{"delete-keeps-handled-events", "Prune and Forget leave the handled events of a deleted invite stored", "upkeep.go",
		"\ts.events = slices.DeleteFunc(s.events, func(ev *event) bool { return gone[ev.e.InviteID] })\n", ""},
	{"forget-across-tenants", "Forget erases the address in every tenant", "upkeep.go",
		"ids := slices.Clone(s.byEmail[key])",
		"var ids []uuid.UUID\n\tfor k, v := range s.byEmail {\n\t\tif len(k) > len(p.Email) && k[len(k)-len(p.Email)-1:] == \"\\x00\"+p.Email {\n\t\t\tids = append(ids, v...)\n\t\t}\n\t}"},
	{"forget-exact-address", "Forget compares the stored address as written, not as NormalizeEmail", "upkeep.go",
		"ids := slices.Clone(s.byEmail[key])",
		"ids := slices.DeleteFunc(slices.Clone(s.byEmail[key]), func(id uuid.UUID) bool { return s.invites[id].inv.Email != p.Email })"},
	{"forget-ignores-limit", "Forget erases every invite of the address in one commit, not up to Limit", "upkeep.go",
		"\tif p.Limit > 0 && len(ids) > p.Limit {\n\t\tids = ids[:p.Limit]\n\t}\n", ""},
	{"forget-no-event", "Forget writes no EventForgotten", "upkeep.go",
		"\t\ts.write(invites.Event{InviteID: id, TenantID: p.TenantID, Type: invites.EventForgotten, ActorID: p.ActorID, At: p.Now})", "\t\t_ = id"},
	{"forget-event-no-actor", "Forget's events do not name ActorID", "upkeep.go",
		"ActorID: p.ActorID, At: p.Now})", "At: p.Now})"},
	{"forget-ignores-busy", "Forget erases an invite while its Accept commits, which then lands on no invite", "upkeep.go",
		"\tif err := s.waitIdle(ctx, func() []uuid.UUID { return s.byEmail[key] }); err != nil {\n\t\treturn nil, err\n\t}\n", ""},
	{"bounce-not-idempotent", "a second Bounce of one delivery records it again", "upkeep.go",
		"if d.bounced {", "if d.bounced && false {"},
	{"bounce-touches-superseded", "Bounce of an email a resend superseded sets the invite's delivery status", "upkeep.go",
		"if s.latest[r.inv.ID] == d.d.ID {", "if s.latest[r.inv.ID] != uuid.Nil {"},
	{"bounce-keeps-queued", "a bounced delivery waiting for a retry is claimed again", "upkeep.go",
		"\tdelete(s.active, d.d.ID)\n", ""},
	{"bounce-no-event", "Bounce writes no EventBounced", "upkeep.go",
		"\ts.emit(r, invites.EventBounced, \"\", p.Now)\n", ""},
	{"link-queues-delivery", "Insert queues an email for an invite of LinkDigests, which a claim then sends", "write.go",
		"\t\t\ts.link(r, d)\n\t\t} else {", "\t\t\ts.link(r, d)\n\t\t\ts.queue(r, dids[i], invites.KindInvitation, now, p.Trace)\n\t\t} else {"},
	{"link-no-token", "Insert stores no token for an invite of LinkDigests", "write.go",
		"\t\t\ts.link(r, d)\n", "\t\t\t_ = d\n"},
	{"link-keeps-queued", "a renewal to a link the host delivers leaves the queued email claimable", "write.go",
		"delete(s.active, queued)", "_ = queued"},
	{"renew-link-queues-reminder", "a renewal with LinkDigest queues a reminder too", "change.go",
		"\t\t\ts.link(r, e.LinkDigest)\n", "\t\t\ts.link(r, e.LinkDigest)\n\t\t\ts.queue(r, did, invites.KindReminder, p.Now, e.Trace)\n"},
	{"renew-link-not-host", "a renewal with LinkDigest leaves DeliveryStatus queued, not DeliveryHost", "change.go",
		"inv.DeliveryStatus = invites.DeliveryHost", "inv.DeliveryStatus = invites.DeliveryQueued"},
	{"claim-renews-fixed", "a claim renews the ExpiresAt of an invite of its own TTL", "delivery.go",
		"!r.fixed && r.inv.ExpiresAt.Before(p.RenewBefore)", "r.inv.ExpiresAt.Before(p.RenewBefore)"},
	{"insert-ignores-fixed", "Insert does not keep FixedExpiry", "write.go",
		"r.fixed = p.FixedExpiry[r.inv.ID]", "_ = p.FixedExpiry"},
	{"renew-keeps-fixed", "a renewal keeps the fixed expiry it had instead of Edit.FixedExpiry", "change.go",
		"r.fixed = e.FixedExpiry", "_ = e.FixedExpiry"},
	{"delivery-ignores-tenant", "Bounce and Suppress scoped to a tenant reach another tenant's delivery", "upkeep.go",
		"if tenant != \"\" && r.inv.TenantID != tenant {", "if false {"},
	{"insert-ignores-suppression", "Insert stores an invite to a suppressed address", "write.go",
		"if p.SuppressionKey != nil && s.suppressed(", "if false && s.suppressed("},
	{"facts-ignore-suppression", "Facts.Suppressed is never set: a Resend reaches a suppressed address", "change.go",
		"f.Suppressed = s.suppressed(", "_ = s.suppressed("},
	{"complaint-own-tenant-only", "a complaint suppresses the address for its own tenant only", "suppress.go",
		"if t == tenant || x.all {", "if t == tenant && x != nil {"},
	{"bounce-suppresses-all-tenants", "a hard bounce suppresses the address for every tenant", "suppress.go",
		"if t == tenant || x.all {", "if t != \"\" || x.all {"},
	{"suppress-twice", "a hard bounce told twice suppresses, and tells of it, twice", "suppress.go",
		"x != nil && (x.all || !p.AllTenants)", "x != nil && x.all"},
	{"complaint-no-widen", "a complaint after a hard bounce leaves the suppression to its tenant", "suppress.go",
		"x != nil && (x.all || !p.AllTenants)", "x != nil"},
	{"suppress-no-event", "Suppress writes no EventSuppressed", "suppress.go",
		"\ts.emit(r, invites.EventSuppressed, \"\", p.Now)\n", ""},
	{"unsuppress-all-tenants", "Unsuppress lifts every tenant's suppression of the address", "suppress.go",
		"delete(s.suppressions[key], p.TenantID)", "clear(s.suppressions[key])"},
	{"unsuppress-no-event", "Unsuppress writes no EventUnsuppressed on the invite", "suppress.go",
		"s.emit(r, invites.EventUnsuppressed, p.ActorID, p.Now)", "_ = r"},
	{"unsuppress-erased-no-event", "Unsuppress of an erased invite's suppression tells ClaimEvents nothing", "suppress.go",
		"s.write(invites.Event{InviteID: x.invite, TenantID: p.TenantID, Type: invites.EventUnsuppressed, ActorID: p.ActorID, At: p.Now})", ""},
	{"forget-lifts-suppression", "Forget erases the address's suppression with its invites", "upkeep.go",
		"\ts.remove(rs)\n\tfor _, id := range ids {", "\ts.remove(rs)\n\tclear(s.suppressions)\n\tfor _, id := range ids {"},
	{"stats-no-suppressions", "Stats counts no suppressions", "upkeep.go",
		"st.Suppressions += len(byTenant)", "_ = byTenant"},
}

// timeout bounds one run of the suite; go test makes a hang fail with a
// goroutine dump, and the process is killed a minute later if it goes on.
const timeout = 3 * time.Minute

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "mutants:", err)
		os.Exit(1)
	}
}

func run() error {
	if _, err := os.Stat("store/memstore"); err != nil {
		return errors.New("run it from the repository root: go run ./internal/e2e/mutants")
	}
	tmp, err := os.MkdirTemp("", "mutants")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	// Check the whole table before the first run, so a rotten entry fails
	// at once.
	srcs := make([][]byte, len(mutants))
	seen := map[string]bool{}
	for i, m := range mutants {
		if seen[m.name] {
			return fmt.Errorf("mutant %s listed twice", m.name)
		}
		seen[m.name] = true
		src, err := os.ReadFile(filepath.Join("store", "memstore", m.file))
		if err != nil {
			return err
		}
		if n := bytes.Count(src, []byte(m.old)); n != 1 {
			return fmt.Errorf("mutant %s: its snippet occurs %d times in %s, not once", m.name, n, m.file)
		}
		srcs[i] = bytes.Replace(src, []byte(m.old), []byte(m.new), 1)
	}

	if len(os.Args) > 1 {
		var some []mutant
		var someSrcs [][]byte
		for i, m := range mutants {
			if strings.HasPrefix(m.name, os.Args[1]) {
				some, someSrcs = append(some, m), append(someSrcs, srcs[i])
			}
		}
		mutants, srcs = some, someSrcs
	}
	start := time.Now()
	if res := suite(""); res.verdict != "passed" {
		return fmt.Errorf("the suite does not pass on memstore as it is (%s):\n%s", res.verdict, res.out)
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "MUTANT\tRESULT\tFIRST FAILING TEST\tBREAKS")
	killed := 0
	for i, m := range mutants {
		overlay, err := writeOverlay(tmp, i, m.file, srcs[i])
		if err != nil {
			return err
		}
		res := suite(overlay)
		switch res.verdict {
		case "build failed":
			return fmt.Errorf("mutant %s does not compile:\n%s", m.name, res.out)
		case "passed":
			res.verdict = "SURVIVED"
		default:
			killed++
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", m.name, res.verdict, res.first, m.breaks)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Printf("\nkilled %d of %d (%s)\n", killed, len(mutants), time.Since(start).Round(time.Second))
	return nil
}

// writeOverlay writes the i-th mutant's source and an overlay that builds
// store/memstore/file from it, and returns the overlay's path.
func writeOverlay(dir string, i int, file string, src []byte) (string, error) {
	target, err := filepath.Abs(filepath.Join("store", "memstore", file))
	if err != nil {
		return "", err
	}
	mut := filepath.Join(dir, fmt.Sprintf("%02d_%s", i, file))
	if err := os.WriteFile(mut, src, 0o644); err != nil {
		return "", err
	}
	b, err := json.Marshal(map[string]map[string]string{"Replace": {target: mut}})
	if err != nil {
		return "", err
	}
	overlay := filepath.Join(dir, fmt.Sprintf("%02d.json", i))
	return overlay, os.WriteFile(overlay, b, 0o644)
}

type result struct {
	verdict string // passed, killed, killed (timeout), build failed
	first   string // the first failing test, when killed
	out     string
}

var failLine = regexp.MustCompile(`(?m)^\s*--- FAIL: (\S+)`)

// suite runs the conformance suite on memstore, built with overlay when
// it is not "".
func suite(overlay string) result {
	ctx, cancel := context.WithTimeout(context.Background(), timeout+time.Minute)
	defer cancel()
	args := []string{"test", "-count=1", "-timeout=" + timeout.String(), "-run", "Conformance"}
	if overlay != "" {
		args = append(args, "-overlay="+overlay)
	}
	cmd := exec.CommandContext(ctx, "go", append(args, "./store/memstore/")...)
	cmd.WaitDelay = 10 * time.Second // a test binary left behind must not hold the pipe open
	b, err := cmd.CombinedOutput()
	out := string(b)
	res := result{out: out, first: "-"}
	// go test prints a parent before its subtests: the first leaf is the
	// first name the next one does not extend.
	m := failLine.FindAllStringSubmatch(out, -1)
	for i, s := range m {
		if i+1 == len(m) || !strings.HasPrefix(m[i+1][1], s[1]+"/") {
			res.first = s[1]
			break
		}
	}
	switch {
	case err == nil:
		res.verdict = "passed"
	case strings.Contains(out, "[build failed]") || strings.Contains(out, "[setup failed]"):
		res.verdict = "build failed"
	case ctx.Err() != nil || strings.Contains(out, "panic: test timed out"):
		res.verdict = "killed (timeout)"
	default:
		res.verdict = "killed"
	}
	return res
}
