package httpadapter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/invitekit/invites"
)

// ReadyTimeout bounds the store's answer to a readiness probe: an
// orchestrator probes every few seconds, and a store slower than this is
// as good as down for the requests it would send.
const ReadyTimeout = 2 * time.Second

// readyFresh is how long one answer of the store serves every probe: a
// caller who floods the unauthenticated check costs the store one Stats a
// second, not one a request.
const readyFresh = time.Second

var (
	readyBody   = []byte(`{"status":"ok"}`)
	unreadyBody = []byte(`{"status":"unavailable"}`)
)

// errWorkerStalled is Ready's failure when Run's passes hang.
var errWorkerStalled = errors.New("httpadapter: the worker (Run) has not finished a pass")

// Ready returns a readiness check for a host to mount where its
// orchestrator probes (GET /readyz, say), outside the API's prefix and
// without authentication. It asks svc.Stats, within ReadyTimeout and the
// request's context, and answers 200 {"status":"ok"} when the store
// answers and 503 {"status":"unavailable"} when it does not, or when Run
// goes in this process but has stalled (invites.Stats.WorkerStalled: no
// pass finished in twice Config.PassTimeout), so the orchestrator
// restarts a process whose worker is stuck. It takes GET and HEAD only.
//
// It shows no counts and no error: Stats are global across tenants, so
// neither this check nor the tenant API (New) serves them; a host exports
// them as metrics (Config.Observer). The first failure of an outage is
// logged to slog.Default with its cause, and the recovery, not every
// probe. However often it is probed, it asks the store at most once a
// second.
func Ready(svc *invites.Service) http.Handler {
	if svc == nil {
		panic("httpadapter: Ready needs a Service")
	}
	return &ready{stats: svc.Stats, timeout: ReadyTimeout, fresh: readyFresh}
}

type ready struct {
	stats   func(context.Context) (invites.Stats, error)
	timeout time.Duration
	fresh   time.Duration // how long one answer serves (readyFresh)
	log     *slog.Logger  // nil: slog.Default() at the time of logging
	// down is set from the first failure to the next success, so an
	// outage is logged once, not per probe.
	down atomic.Bool

	mu   sync.Mutex // held while the store is asked, so probes queue for one answer
	at   time.Time  // when the store last answered or failed
	fail error      // what it answered then
}

// check asks the store, unless it answered within readyFresh.
func (h *ready) check(ctx context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.at.IsZero() && time.Since(h.at) < h.fresh {
		return h.fail
	}
	sctx, cancel := context.WithTimeout(ctx, h.timeout)
	st, err := h.stats(sctx)
	cancel()
	if err == nil && st.WorkerStalled {
		err = fmt.Errorf("%w since %s", errWorkerStalled, st.LastPassAt.Format(time.RFC3339))
	}
	if ctx.Err() == nil { // a probe that went away learned nothing of the store
		h.at, h.fail = time.Now(), err
	}
	return err
}

func (h *ready) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	err := h.check(r.Context())
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
			log.WarnContext(r.Context(), "httpadapter: not ready: the store does not answer, or the worker is stalled", "err", err)
		}
	case h.down.CompareAndSwap(true, false):
		log.InfoContext(r.Context(), "httpadapter: ready again")
	}
	if r.Method == http.MethodHead {
		body = nil
	}
	write(w, status, "application/json", body)
}
