package mailer

import (
	"bytes"
	"cmp"
	"context"
	"embed"
	"errors"
	"fmt"
	htemplate "html/template"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"sync"
	ttemplate "text/template"
	"time"
	"unicode"

	"github.com/invitekit/invites"
	"golang.org/x/text/language"
)

//go:embed templates
var embedded embed.FS

// Templates returns the embedded templates, laid out as the package doc
// says: a starting point for a host's own.
func Templates() fs.FS {
	sub, err := fs.Sub(embedded, "templates")
	if err != nil {
		panic(err) // the directory is embedded above
	}
	return sub
}

// RenderConfig sets up a Renderer. Zero fields take the default their
// comment names.
type RenderConfig struct {
	// Templates overrides and adds templates: a file here replaces the
	// embedded file of the same path, and a new locale directory adds a
	// locale. Default none: the embedded en, de, fr and es.
	Templates fs.FS
	// Extra gives the host's data for one email (tenant, inviter and
	// product names, anything else its templates use). Its error fails the
	// send and is retried, unless it wraps invites.ErrPermanent. Default
	// none.
	Extra func(ctx context.Context, m invites.Message) (Extra, error)
	// DefaultLocale is the locale of an invite whose locale matches none
	// of the templates'. It must have every template. Default "en".
	DefaultLocale string
}

// Extra is what the host adds to an email's template data. TenantName and
// InviterName, when set, stand for the Message's (invites.Config.Sender
// gave those); like them, since a tenant's users often choose them, they
// are held to the rule of the invitee's names (invites.CheckName: no URL
// or domain name, no hidden character, at most invites.MaxNameRunes
// characters), or the email fails for good. ProductName is the host's own
// and not checked; nor are Values, which only the host's templates print.
type Extra struct {
	ProductName string
	TenantName  string
	InviterName string
	// Values carries anything else the host's own templates use.
	Values map[string]any
}

// Data is what a template sees.
type Data struct {
	Kind   invites.MessageKind
	Locale string // the templates' locale, e.g. "de" for an invite in de-AT
	Invite invites.Invite
	// Name is the invitee's first and last name, or "" when it has none.
	Name      string
	AcceptURL string
	ExpiresAt time.Time
	// Subject is the rendered subject line, for the HTML title; empty
	// while the subject itself renders.
	Subject string
	// The host's Extra, copied rather than embedded: text/template finds
	// a promoted field by a slow search on every use.
	ProductName string
	TenantName  string
	InviterName string
	Values      map[string]any
}

// Rendered is one email's content.
type Rendered struct {
	Locale  string
	Subject string // one line: never a CR or LF
	Text    string
	HTML    string
}

// Renderer renders invitation and reminder emails in the locale of each
// invite. It is safe for concurrent use.
type Renderer struct {
	extra   func(context.Context, invites.Message) (Extra, error)
	locales []string // canonical tags, the default first
	matcher language.Matcher
	sets    []map[invites.MessageKind]*set // by locale index
}

// set is the parsed templates of one locale and kind.
type set struct {
	subject, text *ttemplate.Template
	html          *htemplate.Template
}

var kinds = []invites.MessageKind{invites.KindInvitation, invites.KindReminder}

// funcs are the functions every template may call.
var funcs = map[string]any{
	// date prints a time the same way in every locale, so no reader
	// mistakes day for month: 2030-01-09 03:04 UTC.
	"date": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 MST") },
}

// NewRenderer returns a Renderer with every template parsed, so a broken
// host template fails at start rather than on the first email.
func NewRenderer(cfg RenderConfig) (*Renderer, error) {
	if cfg.DefaultLocale == "" {
		cfg.DefaultLocale = "en"
	}
	def, err := language.Parse(cfg.DefaultLocale)
	if err != nil {
		return nil, fmt.Errorf("mailer: RenderConfig.DefaultLocale: %w", err)
	}
	src := sources{Templates()}
	if cfg.Templates != nil {
		src = sources{cfg.Templates, Templates()} // the host's first
	}
	dirs, err := src.locales()
	if err != nil {
		return nil, err
	}
	r := &Renderer{extra: cfg.Extra, locales: []string{def.String()}}
	for tag := range dirs {
		if tag != r.locales[0] {
			r.locales = append(r.locales, tag)
		}
	}
	slices.Sort(r.locales[1:])
	tags := make([]language.Tag, len(r.locales))
	for i, l := range r.locales {
		tags[i] = language.MustParse(l)
		chain := fallbacks(tags[i], def, dirs)
		sets := map[invites.MessageKind]*set{}
		for _, k := range kinds {
			if sets[k], err = src.parse(chain, k); err != nil {
				return nil, err
			}
		}
		r.sets = append(r.sets, sets)
	}
	r.matcher = language.NewMatcher(tags)
	return r, nil
}

// Locales returns the locales templates exist for, the default first.
func (r *Renderer) Locales() []string { return slices.Clone(r.locales) }

// Render returns m rendered in the locale that best matches its invite's.
// A template that fails to execute fails for good (ErrPermanent): sending
// it again renders it the same way.
func (r *Renderer) Render(ctx context.Context, m invites.Message) (Rendered, error) {
	var idx int
	if tag, err := language.Parse(m.Invite.Locale); err == nil {
		_, idx, _ = r.matcher.Match(tag)
	}
	s, ok := r.sets[idx][m.Kind]
	if !ok {
		return Rendered{}, fmt.Errorf("mailer: unknown message kind %q: %w", m.Kind, invites.ErrPermanent)
	}
	d := Data{
		Kind:      m.Kind,
		Locale:    r.locales[idx],
		Invite:    m.Invite,
		Name:      strings.TrimSpace(m.Invite.FirstName + " " + m.Invite.LastName),
		AcceptURL: m.AcceptURL,
		ExpiresAt: m.Invite.ExpiresAt,
	}
	d.TenantName, d.InviterName = m.TenantName, m.InviterName
	if r.extra != nil {
		x, err := r.extra(ctx, m)
		if err != nil {
			return Rendered{}, fmt.Errorf("mailer: template data: %w", err)
		}
		d.ProductName, d.Values = x.ProductName, x.Values
		d.TenantName = cmp.Or(x.TenantName, d.TenantName)
		d.InviterName = cmp.Or(x.InviterName, d.InviterName)
	}
	for _, f := range []struct{ field, v string }{{"TenantName", d.TenantName}, {"InviterName", d.InviterName}} {
		if err := invites.CheckName(f.field, f.v); err != nil {
			return Rendered{}, fmt.Errorf("mailer: template data: %w: %w", invites.ErrPermanent, err)
		}
	}
	out := Rendered{Locale: d.Locale}
	b := buffers.Get().(*bytes.Buffer)
	defer buffers.Put(b)
	exec := func(name string, t interface {
		Execute(w io.Writer, d any) error
	}) (string, error) {
		b.Reset()
		if err := t.Execute(b, &d); err != nil {
			return "", fmt.Errorf("mailer: %s %s template of %s: %w: %w", m.Kind, name, d.Locale, invites.ErrPermanent, err)
		}
		return b.String(), nil
	}
	subject, err := exec("subject", s.subject)
	if err != nil {
		return Rendered{}, err
	}
	if out.Subject = oneLine(subject); out.Subject == "" {
		return Rendered{}, fmt.Errorf("mailer: %s subject of %s is empty: %w", m.Kind, d.Locale, invites.ErrPermanent)
	}
	d.Subject = out.Subject
	if out.Text, err = exec("text", s.text); err != nil {
		return Rendered{}, err
	}
	if out.HTML, err = exec("html", s.html); err != nil {
		return Rendered{}, err
	}
	return out, nil
}

// buffers keep the few kilobytes of an email between renders.
var buffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// oneLine returns s made to fit a header: every run of white space or
// control characters (CR and LF among them) becomes one space, and the
// ends are trimmed. A subject can thus never start a header of its own.
func oneLine(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r)
	}), " ")
}

// fallbacks returns the chain of locale directories a file of tag is looked
// up in: tag, its parents that have a directory, then the default.
func fallbacks(tag, def language.Tag, dirs map[string]bool) []string {
	var chain []string
	for t := tag; t != language.Und; t = t.Parent() {
		if dirs[t.String()] && !slices.Contains(chain, t.String()) {
			chain = append(chain, t.String())
		}
	}
	if !slices.Contains(chain, def.String()) {
		chain = append(chain, def.String())
	}
	return chain
}

// sources are template trees, the first that has a file wins.
type sources []fs.FS

// locales returns the locale directories of every source. Their names
// must be canonical BCP 47 tags (de-AT, not de-at), so one locale has one
// name in every source.
func (src sources) locales() (map[string]bool, error) {
	tags := map[string]bool{}
	for _, fsys := range src {
		entries, err := fs.ReadDir(fsys, ".")
		if err != nil {
			return nil, fmt.Errorf("mailer: reading templates: %w", err)
		}
		for _, e := range entries {
			if !e.IsDir() {
				continue
			}
			tag, err := language.Parse(e.Name())
			if err != nil || tag.String() != e.Name() {
				return nil, fmt.Errorf("mailer: template directory %q is not a canonical BCP 47 tag", e.Name())
			}
			tags[e.Name()] = true
		}
	}
	return tags, nil
}

// firstFound returns the content of the first of names that a source
// holds (the sources tried in order for each), and which name it was.
func (src sources) firstFound(names ...string) (string, string, error) {
	for _, name := range names {
		for _, fsys := range src {
			b, err := fs.ReadFile(fsys, name)
			if err == nil {
				return string(b), name, nil
			}
			if !errors.Is(err, fs.ErrNotExist) {
				return "", "", fmt.Errorf("mailer: reading template %s: %w", name, err)
			}
		}
	}
	return "", "", fmt.Errorf("mailer: no template %s in any locale of %v", path.Base(names[0]), names)
}

// parse finds and parses the templates of kind along chain.
func (src sources) parse(chain []string, kind invites.MessageKind) (*set, error) {
	file := func(part string) (string, string, error) {
		names := make([]string, len(chain))
		for i, dir := range chain {
			names[i] = path.Join(dir, string(kind)+"."+part+".tmpl")
		}
		return src.firstFound(names...)
	}
	var s set
	for _, part := range []string{"subject", "txt"} {
		text, name, err := file(part)
		if err != nil {
			return nil, err
		}
		t, err := ttemplate.New(name).Funcs(funcs).Option("missingkey=zero").Parse(text)
		if err != nil {
			return nil, fmt.Errorf("mailer: %w", err)
		}
		if part == "subject" {
			s.subject = t
		} else {
			s.text = t
		}
	}
	layout, layoutName, err := src.firstFound("layout.html.tmpl")
	if err != nil {
		return nil, err
	}
	content, name, err := file("html")
	if err != nil {
		return nil, err
	}
	s.html, err = htemplate.New(layoutName).Funcs(funcs).Option("missingkey=zero").Parse(layout)
	if err == nil {
		_, err = s.html.New("content").Parse(content)
	}
	if err != nil {
		return nil, fmt.Errorf("mailer: %s: %w", name, err)
	}
	return &s, nil
}
