package httpadapter

import (
	"context"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/invitekit/invites"
)

// ReadyTimeout bounds the store's answer to a readiness probe: an
// orchestrator probes every few seconds, and a store slower than this is
// as good as down for the requests it would send.
const ReadyTimeout = 2 * time.Second

var (
	readyBody   = []byte(`{"status":"ok"}`)
	unreadyBody = []byte(`{"status":"unavailable"}`)
)

// Ready returns a readiness check for a host to mount where its
// orchestrator probes (GET /readyz, say), outside the API's prefix and
// without authentication. It asks svc.Stats, within ReadyTimeout and the
// request's context, and answers 200 {"status":"ok"} when the store
// answers and 503 {"status":"unavailable"} when it does not. It takes GET
// and HEAD only.
//
// It shows no counts and no error: Stats are global across tenants, so
// neither this check nor the tenant API (New) serves them; a host exports
// them as metrics (Config.Observer). The first failure of an outage is
// logged to slog.Default with its cause, and the recovery, not every
// probe.
func Ready(svc *invites.Service) http.Handler {
	if svc == nil {
		panic("httpadapter: Ready needs a Service")
	}
	return &ready{stats: svc.Stats, timeout: ReadyTimeout}
}

type ready struct {
	stats   func(context.Context) (invites.Stats, error)
	timeout time.Duration
	log     *slog.Logger // nil: slog.Default() at the time of logging
	// down is set from the first failure to the next success, so an
	// outage is logged once, not per probe.
	down atomic.Bool
}

func (h *ready) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.timeout)
	_, err := h.stats(ctx)
	cancel()
	log := h.log
	if log == nil {
		log = slog.Default()
	}
	status, body := http.StatusOK, readyBody
	switch {
	case err != nil:
		status, body = http.StatusServiceUnavailable, unreadyBody
		// A probe that went away tells nothing of the store.
		if r.Context().Err() == nil && h.down.CompareAndSwap(false, true) {
			log.WarnContext(r.Context(), "httpadapter: not ready: the store does not answer", "err", err)
		}
	case h.down.CompareAndSwap(true, false):
		log.InfoContext(r.Context(), "httpadapter: ready again: the store answers")
	}
	if r.Method == http.MethodHead {
		body = nil
	}
	write(w, status, "application/json", body)
}
