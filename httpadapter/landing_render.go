package httpadapter

import (
	"bytes"
	"crypto/rand"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"slices"
	"strings"
	"time"

	"golang.org/x/text/language"
)

//go:embed landing
var landingFS embed.FS

// LandingTemplates returns the embedded templates of the landing page, a
// starting point for a host's own:
//
//	layout.html.tmpl          the HTML document; it calls {{template "title" .}} and {{template "content" .}}
//	{locale}/page.html.tmpl   defines "title" and "content" for every LandingState
//
// where locale is a canonical BCP 47 tag: en, de, fr and es are embedded.
// Templates see a LandingPage, and the functions date (a time as
// 2030-01-09 03:04 UTC, as the emails print it) and nobreak (a name whose
// hyphens do not break a line).
func LandingTemplates() fs.FS {
	sub, err := fs.Sub(landingFS, "landing")
	if err != nil {
		panic(err) // the directory is embedded above
	}
	return sub
}

// landingFuncs are the functions every landing template may call.
var landingFuncs = template.FuncMap{
	"date": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 MST") },
	// A hyphen is a line break opportunity: Anne-|Marie on a phone reads
	// as two names. U+2011 looks the same and never breaks.
	"nobreak": func(s string) string { return strings.ReplaceAll(s, "-", "\u2011") },
}

// landingTemplates are the parsed pages, one per locale.
type landingTemplates struct {
	locales []string // canonical tags, the default first
	matcher language.Matcher
	pages   []*template.Template // by locale index
}

// parseLanding parses the templates of every locale of host (which may be
// nil) and the embedded ones, host's file first.
func parseLanding(host fs.FS, defaultLocale string) (*landingTemplates, error) {
	if defaultLocale == "" {
		defaultLocale = "en"
	}
	def, err := language.Parse(defaultLocale)
	if err != nil {
		return nil, fmt.Errorf("httpadapter: LandingConfig.DefaultLocale: %w", err)
	}
	src := []fs.FS{LandingTemplates()}
	if host != nil {
		src = []fs.FS{host, LandingTemplates()}
	}
	read := func(name string) (string, error) {
		for _, fsys := range src {
			b, err := fs.ReadFile(fsys, name)
			if err == nil {
				return string(b), nil
			}
			if !errors.Is(err, fs.ErrNotExist) {
				return "", fmt.Errorf("httpadapter: reading landing template %s: %w", name, err)
			}
		}
		return "", fmt.Errorf("httpadapter: no landing template %s", name)
	}
	t := &landingTemplates{locales: []string{def.String()}}
	for _, fsys := range src {
		entries, err := fs.ReadDir(fsys, ".")
		if err != nil {
			return nil, fmt.Errorf("httpadapter: reading landing templates: %w", err)
		}
		for _, e := range entries {
			if !e.IsDir() {
				continue
			}
			tag, err := language.Parse(e.Name())
			if err != nil || tag.String() != e.Name() {
				return nil, fmt.Errorf("httpadapter: landing template directory %q is not a canonical BCP 47 tag", e.Name())
			}
			if !slices.Contains(t.locales, e.Name()) {
				t.locales = append(t.locales, e.Name())
			}
		}
	}
	layout, err := read("layout.html.tmpl")
	if err != nil {
		return nil, err
	}
	tags := make([]language.Tag, len(t.locales))
	for i, loc := range t.locales {
		tags[i] = language.MustParse(loc)
		name := path.Join(loc, "page.html.tmpl")
		page, err := read(name)
		if err != nil {
			return nil, err
		}
		tmpl, err := template.New("layout.html.tmpl").Funcs(landingFuncs).Option("missingkey=zero").Parse(layout)
		if err == nil {
			_, err = tmpl.New(name).Parse(page)
		}
		if err != nil {
			return nil, fmt.Errorf("httpadapter: landing template %s: %w", name, err)
		}
		t.pages = append(t.pages, tmpl)
	}
	t.matcher = language.NewMatcher(tags)
	return t, nil
}

// pick returns the index of the locale of a page: the first of locales
// (the invite's, the form's) that matches one of the templates', else the
// best of the browser's Accept-Language, else the default.
func (t *landingTemplates) pick(acceptLanguage string, locales ...string) int {
	for _, l := range locales {
		if tag, err := language.Parse(l); err == nil && l != "" {
			if _, i, conf := t.matcher.Match(tag); conf != language.No {
				return i
			}
		}
	}
	if tags, _, err := language.ParseAcceptLanguage(acceptLanguage); err == nil && len(tags) > 0 {
		if _, i, conf := t.matcher.Match(tags...); conf != language.No {
			return i
		}
	}
	return 0
}

// landingHeaders sets the headers of every answer of the landing handler: its
// pages and redirects carry a token in their URL or form, so they stay
// out of caches, search engines and the Referer of whatever they lead to.
func landingHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Robots-Tag", "noindex, nofollow")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
}

// render writes p with status code in the locale of its invite, its form
// or the browser, under a Content-Security-Policy that allows the page's
// one <style> by its nonce and nothing else: no script, no frame, no
// form to another origin.
func (l *Landing) render(w http.ResponseWriter, r *http.Request, code int, p LandingPage) {
	i := l.pages.pick(r.Header.Get("Accept-Language"), p.Invite.Locale, p.Locale)
	p.Locale, p.Nonce = l.pages.locales[i], rand.Text()
	p.Name = strings.TrimSpace(p.Invite.FirstName + " " + p.Invite.LastName)
	var b bytes.Buffer
	if err := l.pages.pages[i].Execute(&b, p); err != nil {
		l.cfg.Logger.ErrorContext(r.Context(), "httpadapter: rendering the landing page", "locale", p.Locale, "state", p.State, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", l.csp[0]+p.Nonce+l.csp[1])
	w.WriteHeader(code)
	_, _ = w.Write(b.Bytes())
}
