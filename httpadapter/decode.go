package httpadapter

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/invitekit/invites"
)

// decode reads r's body into v strictly: JSON only, within MaxBodyBytes,
// one value with no unknown fields, no trailing data, and every member
// named exactly as the API spells it. Each refusal is a problem naming,
// where it can, the field at fault.
func (h *handler) decode(w http.ResponseWriter, r *http.Request, v any) error {
	if err := jsonOnly(r); err != nil {
		return err
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxBodyBytes))
	if err != nil {
		return decodeError(err)
	}
	return strictJSON(body, v)
}

// jsonOnly refuses a request that is not application/json. Every route
// that changes state (or reads by token) asks for it, even those whose
// body may be empty: a browser sends a cross-site POST of a form's media
// types (urlencoded, multipart, text/plain) without asking, but one of
// application/json only after a CORS preflight the host has to allow.
func jsonOnly(r *http.Request) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return problem(http.StatusUnsupportedMediaType, CodeUnsupportedMediaType, "", "The body must be application/json.")
	}
	return nil
}

// strictJSON decodes body into v: one value, no unknown fields, no
// trailing data, no member given twice in one object and no member whose
// name matches a field only when case is ignored (see exactNames). A
// refusal names the field at fault by its whole path, item indexes
// included: userInvites[3].email.
func strictJSON(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &typ) && typ.Field != "":
			// encoding/json names the field without the items' indexes.
			if at := pathAt(body, typ.Offset); at != "" {
				return invalidRequest(at, fmt.Sprintf("%s must be %s.", at, jsonKind(typ.Type)))
			}
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			// encoding/json names the member without its path.
			if err := exactNames(body, reflect.TypeOf(v), ""); err != nil {
				return err
			}
		}
		return decodeError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return invalidRequest("", "The body has data after its JSON value.")
	}
	return exactNames(body, reflect.TypeOf(v), "")
}

// exactNames refuses a member of raw, a JSON value decoded into a t, that
// is no field of t, or is given twice in one object (encoding/json would
// keep the last silently, and another reader the first), or whose name
// matches a field of t only case-insensitively: encoding/json takes
// "Email" for email, and a client that sends it should learn the spelling
// rather than depend on that. The members of a json.RawMessage (data) are
// the client's own and not looked at here: the Service refuses a member
// given twice there. Members are checked in name order, so the same body
// is refused for the same member every time.
func exactNames(raw []byte, t reflect.Type, at string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t.Kind() == reflect.Struct:
		members, twice, ok := objectMembers(raw)
		if !ok {
			return nil // null: nothing to check
		}
		if twice != "" {
			path := join(at, twice)
			return invalidRequest(path, path+" is given more than once.")
		}
		fields := jsonFields(t)
		for _, name := range slices.Sorted(maps.Keys(members)) {
			path := join(at, name)
			ft, ok := fields[name]
			if !ok {
				return invalidRequest(path, misspelled(fields, path, name))
			}
			if err := exactNames(members[name], ft, path); err != nil {
				return err
			}
		}
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct:
		var items []json.RawMessage
		if json.Unmarshal(raw, &items) != nil {
			return nil
		}
		for i, it := range items {
			if err := exactNames(it, t.Elem(), fmt.Sprintf("%s[%d]", at, i)); err != nil {
				return err
			}
		}
	}
	return nil
}

// join returns the path of member name of the value at at.
func join(at, name string) string {
	if at == "" {
		return name
	}
	return at + "." + name
}

// objectMembers returns the members of raw, a JSON object, and the first
// name given twice in it, or ok false when raw is no object.
func objectMembers(raw []byte) (members map[string]json.RawMessage, twice string, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, "", false
	}
	members = map[string]json.RawMessage{}
	for dec.More() {
		tok, err := dec.Token()
		name, isName := tok.(string)
		if err != nil || !isName {
			return nil, "", false
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, "", false
		}
		if _, seen := members[name]; seen && twice == "" {
			twice = name
		}
		members[name] = v
	}
	return members, twice, true
}

// pathAt returns the path (userInvites[3].email) of the value of body
// whose first token ends at offset, as an encoding/json error's Offset
// points, or "" when none does.
func pathAt(body []byte, offset int64) string {
	type frame struct {
		path    string
		array   bool
		next    int    // an array's next index
		name    string // an object's member whose value comes next
		hasName bool
	}
	var stack []*frame
	dec := json.NewDecoder(bytes.NewReader(body))
	for {
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		if tok == json.Delim('}') || tok == json.Delim(']') {
			stack = stack[:len(stack)-1]
			continue
		}
		var path string
		if n := len(stack); n > 0 {
			f := stack[n-1]
			switch {
			case f.array:
				path = fmt.Sprintf("%s[%d]", f.path, f.next)
				f.next++
			case !f.hasName:
				f.name, f.hasName = tok.(string), true
				continue
			default:
				path = join(f.path, f.name)
				f.hasName = false
			}
		}
		if dec.InputOffset() >= offset {
			return path
		}
		if d, ok := tok.(json.Delim); ok {
			stack = append(stack, &frame{path: path, array: d == '['})
		}
	}
}

// jsonFields returns the types of t's fields by their JSON names.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := make(map[string]reflect.Type, t.NumField())
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name != "" && name != "-" {
			out[name] = f.Type
		}
	}
	return out
}

// misspelled returns the detail of a member name that is no field of fields,
// naming the field it matches but for case.
func misspelled(fields map[string]reflect.Type, path, name string) string {
	for f := range fields {
		if strings.EqualFold(f, name) {
			return fmt.Sprintf("%s is not a known field: names are case-sensitive, and this one is spelled %s.", path, f)
		}
	}
	return path + " is not a known field."
}

// emptyRequest is the body of the routes that take none (cancel).
type emptyRequest struct{}

// noBody reads the body of a route that takes none: application/json like
// every state-changing route (see jsonOnly), and empty or {}; anything
// else, null and unknown members included, is invalid_request, so a
// client's mistake is not silently dropped.
func (h *handler) noBody(w http.ResponseWriter, r *http.Request) error {
	var req *emptyRequest
	return h.optionalBody(w, r, &req, "The body must be empty or {}.")
}

// optionalBody reads the body of a route whose body may be empty into v,
// a pointer to a struct pointer, left nil when it is: application/json,
// and empty or an object strictly decoded (null is refused with detail).
func (h *handler) optionalBody(w http.ResponseWriter, r *http.Request, v any, detail string) error {
	if err := jsonOnly(r); err != nil {
		return err
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxBodyBytes))
	if err != nil {
		return decodeError(err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if err := strictJSON(body, v); err != nil {
		return err
	}
	if reflect.ValueOf(v).Elem().IsNil() {
		return invalidRequest("", detail)
	}
	return nil
}

func invalidRequest(field, detail string) error {
	return problem(http.StatusBadRequest, CodeInvalidRequest, field, detail)
}

func decodeError(err error) error {
	var (
		big    *http.MaxBytesError
		syntax *json.SyntaxError
		typ    *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &big):
		return problem(http.StatusRequestEntityTooLarge, CodeBodyTooLarge, "",
			fmt.Sprintf("The body is larger than %d bytes.", big.Limit))
	case errors.Is(err, io.EOF):
		return invalidRequest("", "The body is empty.")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return invalidRequest("", "The body ends inside its JSON value.")
	case errors.As(err, &syntax):
		return invalidRequest("", fmt.Sprintf("The body is not valid JSON (at byte %d).", syntax.Offset))
	case errors.As(err, &typ) && typ.Field == "":
		return invalidRequest("", "The body must be a JSON object.")
	case errors.As(err, &typ):
		return invalidRequest(typ.Field, fmt.Sprintf("%s must be %s.", typ.Field, jsonKind(typ.Type)))
	}
	// encoding/json has no type for this one; its text is stable.
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		if n, err := strconv.Unquote(name); err == nil {
			return invalidRequest(n, n+" is not a known field.")
		}
	}
	return invalidRequest("", "The body cannot be read.")
}

// jsonKind returns the name of the JSON a Go type takes, for a
// wrong-type message.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Bool:
		return "a boolean"
	case reflect.Pointer:
		return jsonKind(t.Elem())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "a whole number" // its range is the Service's to say
	}
	return "a number"
}

// listParams are the query parameters of GET /; any other is refused.
var listParams = append([]string{
	"status", "email", "search", "createdByUserId", "createdAfter", "createdBefore",
	"order", "limit", "offset", "cursor",
}, filterParams()...)

// maxQueryBytes bounds the query string of GET /: room for a list of
// invites.MaxFilterValues long addresses, percent-encoded, beside the rest.
const maxQueryBytes = 64 << 10

// parseQuery reads the list query strictly: known parameters only, each at
// most once; an empty value is no filter, but for a field[op] filter.
// Values the Service checks (statuses, order field, limit range, cursor,
// filters) it refuses itself, naming the same parameter. What no query may
// hold (more bytes than maxQueryBytes, more parameters than there are,
// lists longer than invites.MaxFilterValues) is refused before it is split.
func parseQuery(raw string) (invites.Query, error) {
	var q invites.Query
	vals, err := strictQuery(raw, listParams)
	if err != nil {
		return q, err
	}
	for _, name := range slices.Sorted(maps.Keys(vals)) { // the first bad one, every time
		set := setParam
		if strings.HasSuffix(name, "]") {
			set = func(q *invites.Query, name, v string) error { return setFilter(&q.Where, name, v) }
		}
		if err := set(&q, name, vals[name]); err != nil {
			return q, err
		}
	}
	return q, nil
}

// strictQuery splits raw, a query string of at most maxQueryBytes, into
// the parameters of known, each given at most once; the first bad name in
// name order is refused, so the same query is refused for the same one.
func strictQuery(raw string, known []string) (map[string]string, error) {
	if len(raw) > maxQueryBytes {
		return nil, invalidRequest("", fmt.Sprintf("The query string is longer than %d bytes.", maxQueryBytes))
	}
	if strings.Count(raw, "&") >= len(known) {
		return nil, invalidRequest("", fmt.Sprintf("The query string has more than %d parameters.", len(known)))
	}
	vals, err := url.ParseQuery(raw)
	if err != nil {
		return nil, invalidRequest("", "The query string is malformed.")
	}
	out := make(map[string]string, len(vals))
	for _, name := range slices.Sorted(maps.Keys(vals)) {
		if !slices.Contains(known, name) {
			return nil, invalidRequest(name, name+" is not a known query parameter.")
		}
		if len(vals[name]) > 1 {
			return nil, invalidRequest(name, name+" is given more than once.")
		}
		out[name] = vals[name][0]
	}
	return out, nil
}

func setParam(q *invites.Query, name, v string) error {
	if v == "" {
		return nil
	}
	bad := func(want string) error { return invalidRequest(name, name+" must be "+want+".") }
	var err error
	switch name {
	case "status":
		if err := checkListLen(name, v); err != nil {
			return err
		}
		for s := range strings.SplitSeq(v, ",") {
			q.Statuses = append(q.Statuses, invites.Status(s))
		}
	case "email":
		q.Email = v
	case "search":
		q.Search = v
	case "createdByUserId":
		q.CreatedByUserID = v
	case "createdAfter", "createdBefore":
		t, perr := time.Parse(time.RFC3339, v)
		if perr != nil {
			return bad("an RFC 3339 time, such as 2030-01-02T03:04:05Z (escape + as %2B)")
		}
		if name == "createdAfter" {
			q.CreatedAfter = t
		} else {
			q.CreatedBefore = t
		}
	case "order":
		f, desc := strings.CutPrefix(v, "-")
		q.Order = invites.Order{Field: invites.OrderField(f), Desc: desc}
	case "limit":
		if q.Limit, err = strconv.Atoi(v); err != nil || q.Limit < 1 {
			return bad(fmt.Sprintf("a whole number from 1 to %d", invites.MaxLimit))
		}
	case "offset":
		if q.Offset, err = strconv.Atoi(v); err != nil || q.Offset < 0 {
			return bad(fmt.Sprintf("a whole number from 0 to %d (walk further with the cursor)", invites.MaxOffset))
		}
	case "cursor":
		q.Cursor = v
	}
	return nil
}
