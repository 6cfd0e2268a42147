package main

import (
	"encoding/json"
	"net/http"

	"github.com/invitekit/invites"
)

// statusView is what the send page's status panel shows: the invites of
// the actor's tenant by status, and by the fate of their latest email.
// Nothing in it counts another tenant's rows: the outbox's health across
// tenants (invites.Stats) is for the operator, on /readyz and /metrics.
type statusView struct {
	Invites map[invites.Status]int `json:"invites"`
	// Queued counts the tenant's invites whose latest email waits to be
	// sent (or sent again), Failed those whose latest email failed for good.
	Queued int `json:"queued"`
	Failed int `json:"failed"`
}

// panelStatuses are the statuses the panel counts, in its order.
var panelStatuses = []invites.Status{invites.StatusPending, invites.StatusAccepted,
	invites.StatusDeclined, invites.StatusCanceled, invites.StatusExpired}

// maxStatusScan bounds how many of a tenant's invites the panel reads to
// count their emails: a demo tenant has a handful; past that the figures
// cover the oldest maxStatusScan.
const maxStatusScan = 2000

// status answers the status panel's figures as JSON. Each status count is
// a List of one status with a page of one, read for its TotalCount: the
// status as read now, so a pending invite past its expiry counts as
// expired, as the list shows it. The email counts walk the tenant's list.
func (p *pages) status(w http.ResponseWriter, r *http.Request) {
	ctx, actor := r.Context(), demoActor(r)
	v := statusView{Invites: map[invites.Status]int{}}
	for _, st := range panelStatuses {
		page, err := p.svc.List(ctx, actor, invites.Query{Statuses: []invites.Status{st}, Limit: 1})
		if err != nil {
			p.statusFailed(w, r, err)
			return
		}
		v.Invites[st] = page.TotalCount
	}
	q := invites.Query{Limit: 100}
	for seen := 0; seen < maxStatusScan; {
		page, err := p.svc.List(ctx, actor, q)
		if err != nil {
			p.statusFailed(w, r, err)
			return
		}
		for _, inv := range page.Invites {
			switch inv.DeliveryStatus {
			case invites.DeliveryQueued:
				v.Queued++
			case invites.DeliveryFailed:
				v.Failed++
			}
		}
		seen += len(page.Invites)
		if q.Cursor = page.NextCursor; q.Cursor == "" {
			break
		}
	}
	b, _ := json.Marshal(v) // counts only: cannot fail
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(b)
}

// statusFailed logs why the figures could not be read and answers 503,
// which the panel shows as figures unavailable.
func (p *pages) statusFailed(w http.ResponseWriter, r *http.Request, err error) {
	p.log.WarnContext(r.Context(), "demo: reading the status panel's figures", "err", err)
	http.Error(w, "the status could not be read", http.StatusServiceUnavailable)
}
