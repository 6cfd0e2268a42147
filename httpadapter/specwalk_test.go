package httpadapter

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

// The parts of OpenAPI 3.1 the spec test reads. Keywords it does not
// understand are refused (see unsupported), so the spec cannot say more
// than the test checks.
type (
	document struct {
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Security   []map[string][]string                 `json:"security"`
		Components struct {
			Schemas         map[string]*schema         `json:"schemas"`
			Responses       map[string]*response       `json:"responses"`
			Parameters      map[string]*parameter      `json:"parameters"`
			SecuritySchemes map[string]json.RawMessage `json:"securitySchemes"`
		} `json:"components"`
	}
	operation struct {
		Parameters  []*parameter         `json:"parameters"`
		RequestBody *response            `json:"requestBody"` // content is all the test reads
		Responses   map[string]*response `json:"responses"`
		// Security is the document's when absent; [] is none.
		Security *[]map[string][]string `json:"security"`
	}
	parameter struct {
		Ref  string `json:"$ref"`
		Name string `json:"name"`
		In   string `json:"in"`
	}
	response struct {
		Ref     string                     `json:"$ref"`
		Headers map[string]json.RawMessage `json:"headers"`
		Content map[string]struct {
			Schema *schema `json:"schema"`
		} `json:"content"`
	}
	schema struct {
		Ref        string             `json:"$ref"`
		Type       any                `json:"type"` // a name or a list of names
		Format     string             `json:"format"`
		Properties map[string]*schema `json:"properties"`
		Required   []string           `json:"required"`
		Items      *schema            `json:"items"`
		AllOf      []*schema          `json:"allOf"`
		Enum       []any              `json:"enum"`
	}
)

var unsupported = []string{"oneOf", "anyOf", "not", "const", "patternProperties", "prefixItems", "$defs", "if", "dependentSchemas"}

// parseSpec reads openapi.yaml: YAML in JSON syntax after its # comments.
func parseSpec(raw []byte) (*document, error) {
	var body []string
	for line := range strings.Lines(string(raw)) {
		if len(body) == 0 && strings.HasPrefix(line, "#") {
			continue
		}
		body = append(body, line)
	}
	js := []byte(strings.Join(body, ""))
	for _, kw := range unsupported {
		if bytes.Contains(js, []byte(`"`+kw+`":`)) {
			return nil, fmt.Errorf("the spec test does not understand %q", kw)
		}
	}
	var d document
	if err := json.Unmarshal(js, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// part is a schema with the component it belongs to, which names its
// fields: Invite.email, Problem.code.
type part struct {
	s    *schema
	name string
}

// field is a property as all the parts of an object say it.
type field struct {
	key   string // the component that first declares it, dot, its name
	parts []part
}

// walker checks JSON values against the spec and remembers what it saw.
type walker struct {
	doc      *document
	problems []string
	seen     map[string]bool             // field keys seen in a response
	seenEnum map[*schema]map[string]bool // enum values seen, by the schema that lists them
}

func newWalker(d *document) *walker {
	return &walker{doc: d, seen: map[string]bool{}, seenEnum: map[*schema]map[string]bool{}}
}

func (c *walker) errorf(format string, args ...any) {
	c.problems = append(c.problems, fmt.Sprintf(format, args...))
}

// expand resolves $ref and flattens allOf into the parts that constrain
// one value.
func (c *walker) expand(s *schema, name string, out []part) []part {
	if s == nil {
		return out
	}
	if s.Ref != "" {
		n, _ := strings.CutPrefix(s.Ref, "#/components/schemas/")
		t, ok := c.doc.Components.Schemas[n]
		if !ok {
			c.errorf("unresolved $ref %s", s.Ref)
			return out
		}
		return c.expand(t, n, out)
	}
	out = append(out, part{s, name})
	for _, a := range s.AllOf {
		out = c.expand(a, name, out)
	}
	return out
}

// fields merges the properties of parts; typed is false for a free-form
// object (no part names any property), whose members are the host's.
func (c *walker) fields(parts []part) (fs map[string]*field, required []string, typed bool) {
	fs = map[string]*field{}
	for _, p := range parts {
		for _, name := range slices.Sorted(maps.Keys(p.s.Properties)) {
			f := fs[name]
			if f == nil {
				f = &field{key: p.name + "." + name}
				fs[name] = f
			}
			f.parts = c.expand(p.s.Properties[name], p.name, f.parts)
		}
		required = append(required, p.s.Required...)
	}
	return fs, required, len(fs) > 0
}

func (c *walker) items(parts []part) []part {
	var out []part
	for _, p := range parts {
		out = c.expand(p.s.Items, p.name, out)
	}
	return out
}

// walk checks v, found at at, against parts.
func (c *walker) walk(at string, v any, parts []part) {
	for _, p := range parts {
		c.check(at, v, p.s)
	}
	switch v := v.(type) {
	case map[string]any:
		fs, required, typed := c.fields(parts)
		if !typed {
			return
		}
		for _, k := range slices.Sorted(maps.Keys(v)) {
			f, ok := fs[k]
			if !ok {
				c.errorf("%s.%s is answered but not in the spec", at, k)
				continue
			}
			c.seen[f.key] = true
			c.walk(at+"."+k, v[k], f.parts)
		}
		for _, r := range required {
			if _, ok := v[r]; !ok {
				c.errorf("%s lacks %s, which the spec requires", at, r)
			}
		}
	case []any:
		items := c.items(parts)
		for i, x := range v {
			c.walk(fmt.Sprintf("%s[%d]", at, i), x, items)
		}
	}
}

// check holds v to one schema's type, format and enum.
func (c *walker) check(at string, v any, s *schema) {
	var types []string
	switch t := s.Type.(type) {
	case string:
		types = []string{t}
	case []any:
		for _, x := range t {
			types = append(types, fmt.Sprint(x))
		}
	}
	if len(types) > 0 && !slices.Contains(types, jsonType(v)) &&
		!(jsonType(v) == "integer" && slices.Contains(types, "number")) {
		c.errorf("%s is %s %v, the spec says %v", at, jsonType(v), v, types)
	}
	if str, ok := v.(string); ok && !validFormat(s.Format, str) {
		c.errorf("%s = %q is not a %s", at, str, s.Format)
	}
	if len(s.Enum) == 0 {
		return
	}
	if !slices.Contains(s.Enum, v) {
		c.errorf("%s = %v is not one of the spec's %v", at, v, s.Enum)
	}
	if c.seenEnum[s] == nil {
		c.seenEnum[s] = map[string]bool{}
	}
	c.seenEnum[s][fmt.Sprint(v)] = true
}

func jsonType(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	case float64:
		if v == float64(int64(v)) {
			return "integer"
		}
	}
	return "number"
}

func validFormat(format, s string) bool {
	var err error
	switch format {
	case "date-time":
		_, err = time.Parse(time.RFC3339Nano, s)
	case "uuid":
		_, err = uuid.Parse(s)
	case "uri-reference":
		_, err = url.Parse(s)
	}
	return err == nil
}

// declare lists every field and enum the spec gives a response, so the
// test can tell which of them the handler never produced.
func (c *walker) declare(parts []part, fields map[string]bool, enums map[*schema]string, at string, depth int) {
	if depth > 20 {
		c.errorf("%s: schemas nest too deep (a cycle?)", at)
		return
	}
	for _, p := range parts {
		if len(p.s.Enum) > 0 {
			enums[p.s] = at
		}
	}
	fs, _, _ := c.fields(parts)
	for _, f := range fs {
		fields[f.key] = true
		c.declare(f.parts, fields, enums, f.key, depth+1)
	}
	if items := c.items(parts); len(items) > 0 {
		c.declare(items, fields, enums, at+"[]", depth+1)
	}
}

// compareBody holds the fields a request schema names to the JSON fields
// of the Go type the handler decodes, both ways.
func (c *walker) compareBody(at string, parts []part, t reflect.Type) {
	raw := reflect.TypeFor[json.RawMessage]()
	for (t.Kind() == reflect.Slice && t != raw) || t.Kind() == reflect.Pointer {
		if t.Kind() == reflect.Slice {
			parts = c.items(parts)
		}
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || t == reflect.TypeFor[time.Time]() {
		return
	}
	fs, _, _ := c.fields(parts)
	goFields := map[string]reflect.Type{}
	for _, sf := range reflect.VisibleFields(t) {
		if name, _, _ := strings.Cut(sf.Tag.Get("json"), ","); name != "" && name != "-" {
			goFields[name] = sf.Type
		}
	}
	for _, name := range slices.Sorted(maps.Keys(fs)) {
		if goFields[name] == nil {
			c.errorf("%s.%s is in the spec, but the handler refuses it", at, name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(goFields)) {
		f := fs[name]
		if f == nil {
			c.errorf("%s.%s is read by the handler, but not in the spec", at, name)
			continue
		}
		c.compareBody(at+"."+name, f.parts, goFields[name])
	}
}

// exchange is one request through the handler and what came back.
type exchange struct {
	route  string // the pattern of the route that took it, "" for none
	status int
	header http.Header
	body   []byte
}

func (x exchange) mediaType() string {
	mt, _, _ := mime.ParseMediaType(x.header.Get("Content-Type"))
	return mt
}

func (r *response) resolve(d *document) *response {
	if n, ok := strings.CutPrefix(r.Ref, "#/components/responses/"); ok {
		if t := d.Components.Responses[n]; t != nil {
			return t
		}
	}
	return r
}

func (p *parameter) resolve(d *document) *parameter {
	if n, ok := strings.CutPrefix(p.Ref, "#/components/parameters/"); ok {
		if t := d.Components.Parameters[n]; t != nil {
			return t
		}
	}
	return p
}
