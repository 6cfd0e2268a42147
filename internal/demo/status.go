package main

import (
	"encoding/json"
	"net/http"

	"github.com/invitekit/invites"
)

// statusView is what the send page's status panel shows: the invites of
// the actor's tenant by status, and the outbox's health. The outbox
// figures are the Service's Stats, global across tenants: fine in the
// demo, which serves one tenant to one person, but a real host keeps them
// from its tenants and exports them as metrics instead.
type statusView struct {
	Invites map[invites.Status]int `json:"invites"`
	// Queued, Due, Failing and UnhandledEvents are invites.Stats'.
	Queued int `json:"queued"`
	Due    int `json:"due"`
	// OldestDueSeconds is Stats.OldestDueAge in whole seconds.
	OldestDueSeconds int `json:"oldestDueSeconds"`
	Failing          int `json:"failing"`
	UnhandledEvents  int `json:"unhandledEvents"`
}

// panelStatuses are the statuses the panel counts, in its order.
var panelStatuses = []invites.Status{invites.StatusPending, invites.StatusAccepted,
	invites.StatusDeclined, invites.StatusCanceled, invites.StatusExpired}

// status answers the status panel's figures as JSON. Each count is a
// List of one status with a page of one, read for its TotalCount: the
// status as read now, so a pending invite past its expiry counts as
// expired, as the list shows it.
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
	s, err := p.svc.Stats(ctx)
	if err != nil {
		p.statusFailed(w, r, err)
		return
	}
	v.Queued, v.Due, v.Failing, v.UnhandledEvents = s.Queued, s.Due, s.Failing, s.UnhandledEvents
	v.OldestDueSeconds = int(s.OldestDueAge.Seconds())
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
