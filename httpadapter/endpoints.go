package httpadapter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
)

// withInvites returns {"key":[invites...],rest's members...}, the invites
// written by invites.MarshalInvites. rest is a struct of the members after
// the invites, one at least.
func withInvites(key string, invs []invites.Invite, rest any) ([]byte, error) {
	arr, err := invites.MarshalInvites(invs)
	if err != nil {
		return nil, err
	}
	tail, err := json.Marshal(rest)
	if err != nil {
		return nil, err
	}
	b := make([]byte, 0, len(arr)+len(key)+len(tail)+8)
	b = append(append(append(append(b, `{"`...), key...), `":`...), arr...)
	return append(append(b, ','), tail[1:]...), nil
}

// The request and response bodies. Invites are written by
// invites.Invite's own encoder (see withInvites).
type (
	sendRequest struct {
		UserInvites []sendItem `json:"userInvites"`
		// TenantID and CreatedByUserID may be given, as ROQ's clients do,
		// but only as the actor's own.
		TenantID        string `json:"tenantId"`
		CreatedByUserID string `json:"createdByUserId"`
	}
	sendItem struct {
		Email     string          `json:"email"`
		FirstName string          `json:"firstName"`
		LastName  string          `json:"lastName"`
		Locale    string          `json:"locale"`
		Data      json.RawMessage `json:"data"`
		Roles     []string        `json:"roles"`
		// ROQ's clients put createdByUserId on each item.
		CreatedByUserID string `json:"createdByUserId"`
		Channel         string `json:"channel"`
		TTLSeconds      int64  `json:"ttlSeconds"`
	}
	sendResponse  invites.SendResult
	resendRequest struct {
		Channel    string `json:"channel"`
		TTLSeconds int64  `json:"ttlSeconds"`
	}
	resendResponse invites.Resent
	listResponse   invites.Page
	updateRequest  struct {
		FirstName *string         `json:"firstName"`
		LastName  *string         `json:"lastName"`
		Locale    *string         `json:"locale"`
		Data      json.RawMessage `json:"data"` // null clears it
		Roles     []string        `json:"roles"`
	}
	eventList struct {
		Data []invites.Event `json:"data"`
	}
	tokenRequest struct {
		Token string `json:"token"`
	}
	forgetRequest struct {
		Email string `json:"email"`
	}
	forgetResponse struct {
		InviteIDs []uuid.UUID `json:"inviteIds"`
	}
	unsuppressRequest struct {
		Email string `json:"email"`
	}
	unsuppressResponse struct {
		Unsuppressed bool `json:"unsuppressed"`
	}
)

// MarshalJSON writes {"success":[...],"errors":[...]}, and "links" when
// the host delivers some of the invites.
func (r sendResponse) MarshalJSON() ([]byte, error) {
	return withInvites("success", r.Success, struct {
		Errors []invites.ItemError  `json:"errors"`
		Links  map[uuid.UUID]string `json:"links,omitempty"`
	}{r.Errors, r.Links})
}

// MarshalJSON writes the invite, and its "link" when the host delivers it.
func (r resendResponse) MarshalJSON() ([]byte, error) {
	inv, err := r.Invite.MarshalJSON()
	if err != nil || r.Link == "" {
		return inv, err
	}
	link, err := json.Marshal(r.Link)
	if err != nil {
		return nil, err
	}
	inv = append(inv[:len(inv)-1], `,"link":`...)
	return append(append(inv, link...), '}'), nil
}

// ttl is a lifetime of ttlSeconds; one beyond what a Duration holds is
// the longest it holds, which the Service refuses as any out of bounds.
func ttl(seconds int64) time.Duration {
	const most = int64(math.MaxInt64 / time.Second)
	return time.Duration(min(max(seconds, -most), most)) * time.Second
}

// MarshalJSON writes {"data":[...],"totalCount":N,"nextCursor":"..."},
// without nextCursor on the last page.
func (p listResponse) MarshalJSON() ([]byte, error) {
	return withInvites("data", p.Invites, struct {
		TotalCount int    `json:"totalCount"`
		NextCursor string `json:"nextCursor,omitempty"`
	}{p.TotalCount, p.NextCursor})
}

func (h *handler) send(w http.ResponseWriter, r *http.Request) (any, error) {
	actor, err := h.actor(r, true)
	if err != nil {
		return nil, err
	}
	var req sendRequest
	if err := h.decode(w, r, &req); err != nil {
		return nil, err
	}
	if req.UserInvites == nil { // missing or null; [] is the Service's "is empty"
		return nil, invalidRequest("userInvites", "userInvites is required.")
	}
	if req.TenantID != "" && req.TenantID != actor.TenantID {
		return nil, forbidden("tenantId")
	}
	if req.CreatedByUserID != "" && req.CreatedByUserID != actor.UserID {
		return nil, forbidden("createdByUserId")
	}
	items := make([]invites.NewInvite, len(req.UserInvites))
	for i, it := range req.UserInvites {
		if it.CreatedByUserID != "" && it.CreatedByUserID != actor.UserID {
			return nil, forbidden(fmt.Sprintf("userInvites[%d].createdByUserId", i))
		}
		items[i] = invites.NewInvite{Email: it.Email, FirstName: it.FirstName, LastName: it.LastName,
			Locale: it.Locale, Data: it.Data, Roles: it.Roles, Channel: invites.Channel(it.Channel), TTL: ttl(it.TTLSeconds)}
	}
	res, err := h.svc.Send(r.Context(), actor, items)
	if err != nil {
		return nil, err
	}
	for k, ie := range res.Errors {
		res.Errors[k] = itemPath(ie)
	}
	return sendResponse(res), nil
}

// itemPath names an item error's field by its path in the request,
// userInvites[3].email, in its field and at the head of its message.
func itemPath(ie invites.ItemError) invites.ItemError {
	if ie.Field == "" {
		return ie
	}
	path := fmt.Sprintf("userInvites[%d].%s", ie.Index, ie.Field)
	if rest, ok := strings.CutPrefix(ie.Message, ie.Field+" "); ok {
		ie.Message = path + " " + rest
	}
	ie.Field = path
	return ie
}

func (h *handler) list(_ http.ResponseWriter, r *http.Request) (any, error) {
	actor, err := h.actor(r, true)
	if err != nil {
		return nil, err
	}
	q, err := parseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, err
	}
	page, err := h.svc.List(r.Context(), actor, q)
	if err != nil {
		return nil, err
	}
	return listResponse(page), nil
}

// target authenticates r and parses its {id}. An id that is no UUID is
// not found, like an id of another tenant: neither tells what exists.
func (h *handler) target(r *http.Request) (invites.Actor, uuid.UUID, error) {
	actor, err := h.actor(r, true)
	if err != nil {
		return actor, uuid.Nil, err
	}
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		return actor, uuid.Nil, invites.ErrNotFound
	}
	return actor, id, nil
}

// byID returns the endpoint that answers with f, a Service method on one
// invite of the actor's tenant.
func (h *handler) byID(f func(context.Context, invites.Actor, uuid.UUID) (invites.Invite, error)) endpoint {
	return func(_ http.ResponseWriter, r *http.Request) (any, error) {
		actor, id, err := h.target(r)
		if err != nil {
			return nil, err
		}
		return f(r.Context(), actor, id)
	}
}

// command returns the endpoint that answers with f, a Service method that
// changes one invite of the actor's tenant and takes no body (see noBody).
func (h *handler) command(f func(context.Context, invites.Actor, uuid.UUID) (invites.Invite, error)) endpoint {
	return func(w http.ResponseWriter, r *http.Request) (any, error) {
		actor, id, err := h.target(r)
		if err != nil {
			return nil, err
		}
		if err := h.noBody(w, r); err != nil {
			return nil, err
		}
		return f(r.Context(), actor, id)
	}
}

// resend resends as its body, which may be empty, asks: the link of an
// invite the host delivers is in the answer.
func (h *handler) resend(w http.ResponseWriter, r *http.Request) (any, error) {
	actor, id, err := h.target(r)
	if err != nil {
		return nil, err
	}
	var req *resendRequest
	if err := h.optionalBody(w, r, &req, "The body must be empty or an object."); err != nil {
		return nil, err
	}
	var o invites.ResendOptions
	if req != nil {
		o = invites.ResendOptions{Channel: invites.Channel(req.Channel), TTL: ttl(req.TTLSeconds)}
	}
	res, err := h.svc.ResendWith(r.Context(), actor, id, o)
	var in *invites.InputError
	if errors.As(err, &in) && in.Field == "ttl" { // the body's name for it
		return nil, invalidRequest("ttlSeconds", "ttlSeconds "+in.Reason+".")
	}
	if err != nil {
		return nil, err
	}
	return resendResponse(res), nil
}

func (h *handler) update(w http.ResponseWriter, r *http.Request) (any, error) {
	actor, id, err := h.target(r)
	if err != nil {
		return nil, err
	}
	var req updateRequest
	if err := h.decode(w, r, &req); err != nil {
		return nil, err
	}
	return h.svc.Update(r.Context(), actor, id, invites.Update{FirstName: req.FirstName, LastName: req.LastName,
		Locale: req.Locale, Data: req.Data, Roles: req.Roles})
}

// token returns the token in the body of the token routes. The token
// travels only in bodies, never in a URL, so it stays out of access logs.
func (h *handler) token(w http.ResponseWriter, r *http.Request) (string, error) {
	var req tokenRequest
	if err := h.decode(w, r, &req); err != nil {
		return "", err
	}
	if req.Token == "" {
		return "", invalidRequest("token", "token is required.")
	}
	return req.Token, nil
}

func (h *handler) lookup(w http.ResponseWriter, r *http.Request) (any, error) {
	tok, err := h.token(w, r)
	if err != nil {
		return nil, err
	}
	// The public view of Check, but a token of no invite is a 404.
	v, err := h.svc.Check(r.Context(), tok)
	if err == nil && v.Status == "" {
		err = invites.ErrInvalidToken
	}
	return v, err
}

// used returns the answer to the holder of a token who just used it: the
// outcome, named explicitly ("accepted": true), and its invite's public
// view, whose isValid is false now that the link is used, which a client
// would read as a failure without the outcome beside it.
func used(outcome string, inv invites.Invite, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	return usedAnswer{outcome, invites.PublicView(inv)}, nil
}

// usedAnswer is the public view with the outcome as its first field.
type usedAnswer struct {
	outcome string
	view    invites.TokenCheck
}

func (u usedAnswer) MarshalJSON() ([]byte, error) {
	v, err := json.Marshal(u.view)
	if err != nil {
		return nil, err
	}
	// v is an object with fields (isValid always): put the outcome first.
	return append([]byte(`{"`+u.outcome+`":true,`), v[1:]...), nil
}

// accept needs a user but no tenant: the invitee is not yet a member.
func (h *handler) accept(w http.ResponseWriter, r *http.Request) (any, error) {
	actor, err := h.actor(r, false)
	if err != nil {
		return nil, err
	}
	tok, err := h.token(w, r)
	if err != nil {
		return nil, err
	}
	inv, err := h.svc.Accept(r.Context(), tok, invites.Acceptor{UserID: actor.UserID, Email: actor.Email})
	return used("accepted", inv, err)
}

// check answers ROQ's checkUserInviteToken: an unknown token is a 200
// with isValid false, so the page can tell it from an expired one.
func (h *handler) check(w http.ResponseWriter, r *http.Request) (any, error) {
	tok, err := h.token(w, r)
	if err != nil {
		return nil, err
	}
	return h.svc.Check(r.Context(), tok)
}

// events answers an invite's history, oldest first.
func (h *handler) events(_ http.ResponseWriter, r *http.Request) (any, error) {
	actor, id, err := h.target(r)
	if err != nil {
		return nil, err
	}
	evs, err := h.svc.History(r.Context(), actor, id)
	if err != nil {
		return nil, err
	}
	return eventList{Data: append([]invites.Event{}, evs...)}, nil
}

func (h *handler) decline(w http.ResponseWriter, r *http.Request) (any, error) {
	tok, err := h.token(w, r)
	if err != nil {
		return nil, err
	}
	inv, err := h.svc.Decline(r.Context(), tok)
	return used("declined", inv, err)
}

// forget erases an address from the actor's tenant (Service.Forget), as
// the right to erasure asks. The address travels in the body, never in a
// URL, so it stays out of access logs.
func (h *handler) forget(w http.ResponseWriter, r *http.Request) (any, error) {
	actor, err := h.actor(r, true)
	if err != nil {
		return nil, err
	}
	var req forgetRequest
	if err := h.decode(w, r, &req); err != nil {
		return nil, err
	}
	ids, err := h.svc.Forget(r.Context(), actor, req.Email)
	if err != nil {
		return nil, err
	}
	return forgetResponse{InviteIDs: append([]uuid.UUID{}, ids...)}, nil
}

// unsuppress lifts the actor's tenant's suppression of an address
// (Service.Unsuppress). It takes no Idempotency-Key: a retry changes
// nothing and answers unsuppressed false. The address travels in the
// body, as forget's.
func (h *handler) unsuppress(w http.ResponseWriter, r *http.Request) (any, error) {
	actor, err := h.actor(r, true)
	if err != nil {
		return nil, err
	}
	var req unsuppressRequest
	if err := h.decode(w, r, &req); err != nil {
		return nil, err
	}
	lifted, err := h.svc.Unsuppress(r.Context(), actor, req.Email)
	if err != nil {
		return nil, err
	}
	return unsuppressResponse{Unsuppressed: lifted}, nil
}
