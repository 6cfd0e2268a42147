package httpadapter

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
)

// The routes of shareable invite links, under /links: an administrator's
// create, list, get, revoke, rotate, uses, events and revoke-by-creator,
// each held to the actor's tenant; the public check of a token; and join,
// for the user Config.Joiner names. They take no Idempotency-Key: a
// create's or rotate's answer holds a token shown once, which a replay
// could not repeat, and a retried revoke or join is refused with the code
// of what the first did (link_revoked, already_joined).

// linksPrefix is the path of the link routes, served by a ServeMux of
// their own: GET /links/{id} and GET /{id}/events would overlap in one.
const linksPrefix = "/links"

func (h *handler) linkRoutes() []route {
	return []route{
		{"POST /links", h.serve(h.createLink)},
		{"GET /links", h.serve(h.listLinks)},
		{"GET /links/{id}", h.serve(h.onLink(h.svc.GetLink))},
		{"POST /links/{id}/revoke", h.serve(h.linkCommand(h.svc.RevokeLink))},
		{"POST /links/{id}/rotate", h.serve(h.rotateLink)},
		{"GET /links/{id}/uses", h.serve(h.linkUses)},
		{"GET /links/{id}/events", h.serve(h.linkEvents)},
		{"POST /links/revoke", h.serve(h.revokeLinksBy)},
		{"POST /links/check", h.serve(h.checkLink)},
		{"POST /links/join", h.serve(h.join)},
	}
}

// isLinkPath reports whether p is served by the link routes' mux.
func isLinkPath(p string) bool {
	return p == linksPrefix || strings.HasPrefix(p, linksPrefix+"/")
}

// The bodies of the link routes.
type (
	createLinkRequest struct {
		// Roles absent or null: the actor's own.
		Roles   []string `json:"roles"`
		MaxUses int      `json:"maxUses"`
		// ExpiresAt (RFC 3339) or TTLSeconds, not both; neither: the
		// Service's default.
		ExpiresAt      string   `json:"expiresAt"`
		TTLSeconds     int64    `json:"ttlSeconds"`
		AllowedDomains []string `json:"allowedDomains"`
		Note           string   `json:"note"`
	}
	// createdLink is a link with its token and URL, shown this once.
	createdLink struct {
		Link  invites.Link `json:"link"`
		Token string       `json:"token"`
		URL   string       `json:"url,omitempty"`
	}
	linkList struct {
		Data       []invites.Link `json:"data"`
		NextCursor string         `json:"nextCursor,omitempty"`
	}
	linkUseList struct {
		Data []invites.LinkUse `json:"data"`
	}
	// linkEvent is an invites.Event of a link, without the inviteId an
	// invite's event has.
	linkEvent struct {
		ID       int64             `json:"id"`
		LinkID   uuid.UUID         `json:"linkId"`
		TenantID string            `json:"tenantId"`
		Type     invites.EventType `json:"type"`
		ActorID  string            `json:"actorId"`
		At       time.Time         `json:"at"`
	}
	linkEventList struct {
		Data []linkEvent `json:"data"`
	}
	revokeLinksRequest struct {
		CreatedByUserID string `json:"createdByUserId"`
	}
	// joined answers a join: the tenant and the roles the user has joined
	// with; nothing of the link's creator, note or uses.
	joined struct {
		Joined   bool     `json:"joined"`
		TenantID string   `json:"tenantId"`
		Roles    []string `json:"roles"`
	}
)

// linkListParams are the query parameters of GET /links.
var linkListParams = []string{"status", "createdByUserId", "limit", "cursor"}

func answerCreated(c invites.CreatedLink, err error) (any, error) {
	if err != nil {
		return nil, linkError(err)
	}
	return createdLink{Link: c.Link, Token: c.Token.Reveal(), URL: c.URL}, nil
}

func (h *handler) createLink(w http.ResponseWriter, r *http.Request) (any, error) {
	actor, err := h.actor(r, true)
	if err != nil {
		return nil, err
	}
	var req createLinkRequest
	if err := h.decode(w, r, &req); err != nil {
		return nil, err
	}
	spec := invites.LinkSpec{Roles: req.Roles, MaxUses: req.MaxUses, TTL: ttl(req.TTLSeconds),
		AllowedDomains: req.AllowedDomains, Note: req.Note}
	if req.ExpiresAt != "" {
		// The zero time is no time here: the Service would read it as none.
		if spec.ExpiresAt, err = time.Parse(time.RFC3339, req.ExpiresAt); err != nil || spec.ExpiresAt.IsZero() {
			return nil, invalidRequest("expiresAt", "expiresAt must be an RFC 3339 time, such as 2030-01-02T03:04:05Z.")
		}
	}
	c, err := h.svc.CreateLink(r.Context(), actor, spec)
	var in *invites.InputError
	if errors.As(err, &in) && in.Field == "ttl" { // the body's name for it
		return nil, invalidRequest("ttlSeconds", "ttlSeconds "+in.Reason+".")
	}
	return answerCreated(c, err)
}

func (h *handler) listLinks(_ http.ResponseWriter, r *http.Request) (any, error) {
	actor, err := h.actor(r, true)
	if err != nil {
		return nil, err
	}
	vals, err := strictQuery(r.URL.RawQuery, linkListParams)
	if err != nil {
		return nil, err
	}
	var q invites.LinkQuery
	if v := vals["status"]; v != "" {
		if err := checkListLen("status", v); err != nil {
			return nil, err
		}
		for s := range strings.SplitSeq(v, ",") {
			q.Statuses = append(q.Statuses, invites.LinkStatus(s))
		}
	}
	q.CreatedByUserID, q.Cursor = vals["createdByUserId"], vals["cursor"]
	if v := vals["limit"]; v != "" {
		if q.Limit, err = strconv.Atoi(v); err != nil || q.Limit < 1 {
			return nil, invalidRequest("limit", fmt.Sprintf("limit must be a whole number from 1 to %d.", invites.MaxLimit))
		}
	}
	page, err := h.svc.ListLinks(r.Context(), actor, q)
	if err != nil {
		return nil, err
	}
	return linkList{Data: append([]invites.Link{}, page.Links...), NextCursor: page.NextCursor}, nil
}

// onLink returns the endpoint that answers with f, a Service method on
// one link of the actor's tenant.
func (h *handler) onLink(f func(context.Context, invites.Actor, uuid.UUID) (invites.Link, error)) endpoint {
	return func(_ http.ResponseWriter, r *http.Request) (any, error) {
		actor, id, err := h.target(r)
		if err != nil {
			return nil, linkError(err)
		}
		l, err := f(r.Context(), actor, id)
		return l, linkError(err)
	}
}

// linkCommand is onLink for a method that changes the link and takes no
// body (see noBody).
func (h *handler) linkCommand(f func(context.Context, invites.Actor, uuid.UUID) (invites.Link, error)) endpoint {
	return func(w http.ResponseWriter, r *http.Request) (any, error) {
		actor, id, err := h.target(r)
		if err != nil {
			return nil, linkError(err)
		}
		if err := h.noBody(w, r); err != nil {
			return nil, err
		}
		l, err := f(r.Context(), actor, id)
		return l, linkError(err)
	}
}

func (h *handler) rotateLink(w http.ResponseWriter, r *http.Request) (any, error) {
	actor, id, err := h.target(r)
	if err != nil {
		return nil, linkError(err)
	}
	if err := h.noBody(w, r); err != nil {
		return nil, err
	}
	return answerCreated(h.svc.RotateLink(r.Context(), actor, id))
}

func (h *handler) linkUses(_ http.ResponseWriter, r *http.Request) (any, error) {
	actor, id, err := h.target(r)
	if err != nil {
		return nil, linkError(err)
	}
	uses, err := h.svc.LinkUses(r.Context(), actor, id)
	if err != nil {
		return nil, linkError(err)
	}
	return linkUseList{Data: append([]invites.LinkUse{}, uses...)}, nil
}

func (h *handler) linkEvents(_ http.ResponseWriter, r *http.Request) (any, error) {
	actor, id, err := h.target(r)
	if err != nil {
		return nil, linkError(err)
	}
	evs, err := h.svc.LinkHistory(r.Context(), actor, id)
	if err != nil {
		return nil, linkError(err)
	}
	out := linkEventList{Data: make([]linkEvent, len(evs))}
	for i, e := range evs {
		out.Data[i] = linkEvent{ID: e.ID, LinkID: e.LinkID, TenantID: e.TenantID, Type: e.Type, ActorID: e.ActorID, At: e.At}
	}
	return out, nil
}

// revokeLinksBy revokes every active link one user of the actor's tenant
// made (Service.RevokeLinksBy), for a host that demotes or removes them.
func (h *handler) revokeLinksBy(w http.ResponseWriter, r *http.Request) (any, error) {
	actor, err := h.actor(r, true)
	if err != nil {
		return nil, err
	}
	var req revokeLinksRequest
	if err := h.decode(w, r, &req); err != nil {
		return nil, err
	}
	ls, err := h.svc.RevokeLinksBy(r.Context(), actor, req.CreatedByUserID)
	var in *invites.InputError
	if errors.As(err, &in) && in.Field == "userId" { // the body's name for it
		return nil, invalidRequest("createdByUserId", "createdByUserId "+in.Reason+".")
	}
	if err != nil {
		return nil, err
	}
	return linkList{Data: append([]invites.Link{}, ls...)}, nil
}

// checkLink answers the holder of a link: valid, or why not, and the view
// of the tenant Config.LinkView gives; an unknown token is a 200 with
// isValid false, as POST /check answers.
func (h *handler) checkLink(w http.ResponseWriter, r *http.Request) (any, error) {
	tok, err := h.token(w, r)
	if err != nil {
		return nil, err
	}
	return h.svc.CheckLink(r.Context(), tok)
}

// join uses a link for the user Config.Joiner names.
func (h *handler) join(w http.ResponseWriter, r *http.Request) (any, error) {
	j, err := h.joiner(r)
	if err != nil {
		return nil, err
	}
	tok, err := h.token(w, r)
	if err != nil {
		return nil, err
	}
	l, err := h.svc.JoinByLink(r.Context(), tok, j)
	if err != nil {
		return nil, linkError(err)
	}
	return joined{Joined: true, TenantID: l.TenantID, Roles: l.Roles}, nil
}

// joiner returns the user who joins: Config.Joiner's, or the
// authenticated actor's user with an unverified address.
func (h *handler) joiner(r *http.Request) (invites.Joiner, error) {
	if h.cfg.Joiner == nil {
		a, err := h.actor(r, false)
		return invites.Joiner{UserID: a.UserID, Email: a.Email}, err
	}
	j, err := h.cfg.Joiner(r)
	if err != nil || j.UserID == "" {
		return invites.Joiner{}, problem(http.StatusUnauthorized, CodeUnauthenticated, "", "The request carries no authenticated user.")
	}
	return j, nil
}

// linkError words a not-found error of a link route as a link's.
func linkError(err error) error {
	if errors.Is(err, invites.ErrNotFound) {
		return problem(http.StatusNotFound, CodeNotFound, "", "No such link.")
	}
	return err
}
