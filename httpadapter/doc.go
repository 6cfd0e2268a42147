// Package httpadapter serves an invites.Service over HTTP: a JSON API in
// the shape of ROQ's User Invites API, for a host to mount in its own
// server. The host says who the actor is (Config.Authenticate); the
// handler holds every request to that actor's tenant.
//
// Mount it under any prefix with http.StripPrefix, on the prefix with and
// without its trailing slash, so that POST /api/invites sends a batch as
// POST /api/invites/ does (ServeMux would answer it with an empty
// redirect, which most clients do not follow with the body):
//
//	h := httpadapter.New(svc, httpadapter.Config{
//		Authenticate: func(r *http.Request) (invites.Actor, error) {
//			u, err := sessions.User(r) // the host's own
//			if err != nil {
//				return invites.Actor{}, err
//			}
//			return invites.Actor{UserID: u.ID, TenantID: u.TenantID, Roles: u.Roles, Email: u.Email}, nil
//		},
//	})
//	mux.Handle("/api/invites/", http.StripPrefix("/api/invites", h))
//	mux.Handle("/api/invites", http.StripPrefix("/api/invites", h))
//
// # Routes
//
//	POST  /               send a batch: {"userInvites":[...]} -> {"success":[Invite], "errors":[ItemError]}
//	GET   /               list: {"data":[Invite], "totalCount":N, "nextCursor":"..."}
//	GET   /{id}           one invite
//	PATCH /{id}           {firstName?, lastName?, locale?, data?, roles?}; "data":null clears the data
//	POST  /{id}/resend    a new link and expiry; no body, or {}
//	POST  /{id}/cancel    withdraw; no body, or {}
//	GET   /{id}/events    {"data":[Event]}: the lifecycle events, oldest first
//	POST  /lookup         {"token":...} -> the public view; no actor needed
//	POST  /check          {"token":...} -> {isValid, isExpired, ...} (ROQ's checkUserInviteToken); no actor needed
//	POST  /accept         {"token":...} -> {"accepted":true, ...the public view}; the actor (a user, no tenant needed) becomes acceptedByUserId
//	POST  /decline        {"token":...} -> {"declined":true, ...the public view}; no actor needed
//	POST  /forget         {"email":...} -> {"inviteIds":[...]}: erase the address from the tenant (GDPR art. 17)
//	POST  /unsuppress     {"email":...} -> {"unsuppressed":bool}: mail an address that bounced or complained again
//	GET   /openapi.yaml   the OpenAPI 3.1 description (also OpenAPI())
//
// and those of shareable invite links (invites.Service.CreateLink and the
// rest), under /links:
//
//	POST  /links              {roles?, maxUses, expiresAt? or ttlSeconds?, allowedDomains?, note?} -> {"link":Link, "token":..., "url":...}
//	GET   /links              list: ?status=active,exhausted,expired,revoked&createdByUserId=&limit=&cursor= -> {"data":[Link], "nextCursor":"..."}
//	GET   /links/{id}         one link; never its token
//	POST  /links/{id}/revoke  end it now; no body, or {}
//	POST  /links/{id}/rotate  revoke it and make one of the same spec -> as POST /links
//	GET   /links/{id}/uses    {"data":[{linkId, userId, at}]}: who joined, oldest first
//	GET   /links/{id}/events  {"data":[LinkEvent]}: link_created, link_used, link_revoked
//	POST  /links/revoke       {"createdByUserId":...} -> {"data":[Link]}: revoke every active link of a user
//	POST  /links/check        {"token":...} -> {isValid, status?, view?}; no actor needed
//	POST  /links/join         {"token":...} -> {"joined":true, "tenantId":..., "roles":[...]}; the user Config.Joiner names
//
// A link's token is in the answer of its create or rotate once, and
// never again: rotate the link when it is lost. Joining needs a user,
// not a tenant: Config.Joiner tells who, with the address the host
// verified (a link's allowedDomains admit only a verified address); by
// default it is Authenticate's actor, whose address counts as unverified.
// The link routes take no Idempotency-Key: a create's answer holds a token
// a replay could not show again, and a retried revoke or join is refused
// with the code of what the first one did (link_revoked, already_joined).
//
// Forget deletes every invite of the address in the actor's tenant, with
// its tokens, queued emails and events, for good (invites.Service.Forget,
// asked of Config.Authorize as invites.OpForget); what remains of each is
// one forgotten event without the address, told to invites.Config.OnEvent.
// The address, like a token, travels in the body. On a store that is no
// invites.UpkeepStore it answers 501 unsupported.
//
// Unsuppress lifts the tenant's suppression of an address whose email
// bounced for good or whose recipient complained
// (invites.Service.Unsuppress, asked of Config.Authorize as
// invites.OpUnsuppress): until then a send to it is the item code
// suppressed and a resend a 409 suppressed. A retry changes nothing and
// answers false, so it takes no Idempotency-Key.
//
// Two methods of the Service have no route, by design: Stats counts the
// outbox of every tenant, which no tenant may see (Ready tells an
// orchestrator whether the store answers, and an Observer exports the
// figures as metrics); RecordBounce and RecordComplaint take no actor,
// so the host calls them from its own webhook (or mailer/bouncehook's),
// once it has checked the provider's signature.
//
// Tokens travel only in request bodies, never in a URL, so they stay out
// of access logs; the landing page of a link looks the token up by POST
// and accepts only on a POST, since mail scanners follow links. (The
// ready-made landing page, NewLanding, reads the token from the link it
// serves: see "The landing page".)
//
// Every POST and PATCH must be Content-Type application/json, resend and
// cancel included, whose body is empty or {}: a browser sends a
// cross-site form (urlencoded, multipart, text/plain) without a CORS
// preflight, but application/json only after one, which the host's CORS
// policy decides. A host whose Authenticate reads a cookie thus gets no
// cross-site writes through a form; SameSite cookies are still worth
// setting.
//
// The list takes status (comma-separated), email, search, createdByUserId,
// createdAfter and createdBefore (RFC 3339), order (createdAt, updatedAt,
// email, status, firstName, lastName, locale; a leading - for
// descending), limit (1 to 100, default 20), offset and cursor. An empty
// parameter is no filter; an unknown or repeated one is a 400. nextCursor
// is left out on the last page.
//
// ROQ's operators filter by field[operator]: equalTo, notEqualTo, valueIn
// and valueNotIn (comma-separated, at most 100) on id, email, firstName,
// lastName, locale, status, createdByUserId and acceptedByUserId; like
// and iLike (SQL LIKE patterns: % any run, _ any one character, a
// backslash makes the next one literal) on email, firstName, lastName and
// locale. Their value is taken as given, empty included, so
// acceptedByUserId[equalTo]= lists the invites nobody accepted:
//
//	GET /?email[iLike]=%25@acme.com&status[valueIn]=pending,expired&order=-lastName
//
// The public view of lookup has isValid and isExpired (as check answers
// them), email, firstName, lastName, tenantId, locale (for the landing
// page's language), roles, status and expiresAt: no ids of the invite or
// its users, no delivery state; check, accept and decline answer the same
// view. Lookup and check of an invite no longer pending show only
// isValid, isExpired and status. Accept and decline put their outcome
// first, "accepted": true or "declined": true, since the view's isValid is
// false once the link is used.
//
// A check of an unknown or malformed token is a 200 with isValid false and
// nothing else, so a landing page can tell "expired, ask for a new one"
// from "invalid" without an error path. Accept passes the actor's Email as
// invites.Acceptor.Email.
//
// An {id} that is no UUID answers 404 not_found, as an invite of another
// tenant does, so no answer tells what exists. A send whose tenantId or
// createdByUserId (top level or per item, as ROQ's clients send it) is not
// the actor's is a 403.
//
// # Errors
//
// Every error is application/problem+json (RFC 9457) with a stable code
// (the Code constants) and, where they apply, field (the member or query
// parameter at fault), inviteStatus (for not_pending: RFC 9457 takes
// "status" for the HTTP status) and retryAfter (also the Retry-After
// header):
//
//	400 invalid_request         malformed JSON, unknown field (names are case-sensitive), wrong type, trailing data, bad value
//	401 unauthenticated         Authenticate found no actor
//	403 forbidden               another tenant or user named in a body; a role the actor may not grant
//	403 email_mismatch          invites.Config.RequireEmailMatch and the actor's Email is not the invite's
//	403 domain_not_allowed      a join by an unverified address, or one at none of the link's allowedDomains
//	404 not_found               no such invite or link in the actor's tenant, or no such route
//	404 invalid_token           no invite (on /links/join, no link) has the token
//	405 method_not_allowed      with Allow
//	409 not_pending             with inviteStatus
//	409 already_invited         a resend meets another pending invite of the address
//	409 suppressed              a resend to an address that bounced for good or complained
//	409 already_joined          a join by a user who joined through the link before
//	409 already_member          a join by a user invites.Config.IsMember says is of the tenant
//	410 expired
//	410 link_revoked            a join by a revoked link, or a revoke or rotate of one
//	410 link_exhausted          a join by a link whose every use is taken
//	410 link_expired            a join by a link past its expiresAt
//	413 batch_too_large         more items than invites.Config.MaxBatch
//	413 body_too_large          more bytes than Config.MaxBodyBytes
//	415 unsupported_media_type  a POST or PATCH that is not application/json, even with no body
//	422 idempotency_key_reused  the Idempotency-Key was sent before with another request (field Idempotency-Key)
//	429 resend_too_soon         with retryAfter and Retry-After
//	429 too_many_resends
//	429 rate_limited            over a send quota: a resend (MaxSendsPerAddressPerDay too), or a batch none of whose items fits;
//	                            a link's create when the tenant has invites.Config.MaxActiveLinks active links
//	429 link_rate_limited       with retryAfter and Retry-After: invites.Config.LinkUsesPerMinute joins of the link
//	500 internal                nothing of the cause; Config.Logger gets it
//	501 unsupported             the store cannot do the operation: forget on a store that is no invites.UpkeepStore,
//	                            a link route on one that is no invites.LinkStore
//	503 unavailable             with retryAfter and Retry-After: the store timed out or its database is
//	                            unreachable; Config.Logger gets the first of an outage and the recovery
//
// Every route that writes (send, update, resend, cancel, forget, accept,
// decline) takes an Idempotency-Key header (IdempotencyKeyHeader): a retry
// with the same key and body is answered as the first request was, and
// writes nothing, so a client that got a 503 or no answer retries safely.
//
// Config.Problem may rewrite a problem before it is written, for instance
// to set type URIs or to give an error of the host's own OnAccept hook a
// status.
//
// # The landing page
//
// NewLanding returns the page an invitation's link opens, for a host that
// would rather not write its own over the JSON routes. Mount it on the
// path of the links, which LandingURL writes:
//
//	landing, err := httpadapter.NewLanding(svc, httpadapter.LandingConfig{
//		Path:   "/invite",
//		Secret: secret, // 32 random bytes or more, from the host's secrets
//		User: func(r *http.Request) (invites.Acceptor, bool) {
//			u, err := sessions.User(r) // the host's own
//			return invites.Acceptor{UserID: u.ID, Email: u.Email}, err == nil
//		},
//		SignInURL:   func(back string) string { return "/login?next=" + url.QueryEscape(back) },
//		AcceptedURL: func(r *http.Request, inv invites.Invite) string { return "/t/" + inv.TenantID },
//	})
//	mux.Handle("/invite", landing)
//
// with invites.Config.AcceptURL set to
// httpadapter.LandingURL("https://app.example/invite").
//
// GET and HEAD show the invite's public view (invites.Service.Check): a
// read, so a mail scanner that follows or prefetches the link changes
// nothing. While the invite is pending the page has a form: Accept for a
// signed-in user (User), and for anyone else a link to the host's sign-in
// page (SignInURL) that comes back to the link; Decline for anyone, as
// invites.Service.Decline takes no user. The form posts to Path; an
// accept leads to AcceptedURL with 303 See Other, a decline shows its
// page, and an accept without a user goes to sign in first. (A session
// cookie of SameSite=Strict does not come with the first GET, a
// navigation from the mail client: the page offers to sign in, which
// finds the session and comes back.) A link
// accepted, declined, canceled, expired, or replaced by a resend (which
// forgets the old token, so it names no invite) shows a page in words and
// no form.
//
// A POST is refused with 403, and nothing done, unless both hold:
//
//   - the browser says it comes from this origin (Sec-Fetch-Site, or
//     Origin against Host: http.CrossOriginProtection), so a cross-site
//     form never gets further;
//   - its csrf field is the HMAC-SHA256, under Secret, of the nonce in the
//     page's cookie (HttpOnly, SameSite=Strict, Secure over TLS or with
//     SecureCookie) and of the link's token, compared in constant time: a
//     forged form has no cookie, or no MAC for a cookie of its own, and
//     the MAC of one link accepts no other.
//
// A form larger than MaxBodyBytes is refused with 413. Where the browser
// goes next is the host's to say, never the request's: the way back from
// sign-in is Path with the link's token, a LocalPath, whatever the path,
// Host or form of the request; the sign-in page, which gets it in a URL
// anyone can write, checks it again with LocalPath before it redirects.
//
// Every answer carries Cache-Control: no-store, Referrer-Policy:
// no-referrer and X-Robots-Tag: noindex, since the link's token is in its
// URL and its form; every
// page a Content-Security-Policy that allows no script, no frame, no form
// to another origin (FormAction adds the origins AcceptedURL and
// SignInURL lead to) and the page's one <style> by a nonce of the
// response. The token in the link's query reaches the host's access log:
// drop the query of Path there.
//
// The pages render through html/template from LandingTemplates, in en,
// de, fr and es: in the locale of the invite, as its emails are (package
// mailer: de-AT gets de), or when the page has none (a link no longer
// pending shows only its status) that of the form, then the browser's
// Accept-Language, then DefaultLocale. LandingConfig.Templates replaces
// files and adds locales; the templates see a LandingPage.
//
// # The OpenAPI document
//
// openapi.yaml is written in YAML's JSON-compatible flow syntax (YAML 1.2
// is a superset of JSON), so any YAML or JSON tool reads it and this
// module needs no YAML library. A test holds it to the handler both ways:
// every path, method, status code, content type, header, parameter and
// JSON field of the document is one the handler really answers or reads,
// and the reverse. Clients generated from it with oapi-codegen (Go) and
// openapi-typescript (for openapi-fetch) build, type-check and run the
// lifecycle in a test of internal/e2e/clientgen. Its security scheme hostAuth
// says a bearer token; a host that authenticates otherwise serves its own
// copy of OpenAPI() with that scheme replaced, on a more specific route
// than the handler's.
package httpadapter
