// Package mailer renders invitation and reminder emails and sends them:
// NewSMTP is the invites.Mailer for production, NewWriter prints emails
// for development, and mailertest fakes one for tests.
//
// # Templates
//
// Each email has a subject and a text part (text/template) and an HTML
// part (html/template, so names and host data are escaped). The embedded
// templates (see Templates) are laid out as
//
//	layout.html.tmpl                 the HTML document; it calls {{template "content" .}}
//	{locale}/{kind}.subject.tmpl     one line; CR, LF and runs of space fold to one space
//	{locale}/{kind}.txt.tmpl         the text part
//	{locale}/{kind}.html.tmpl        the HTML part's "content"
//
// where kind is invitation or reminder and locale is a canonical BCP 47
// tag: en, de, fr and es are embedded. RenderConfig.Templates, a host's
// fs.FS of the same layout, replaces any file by its path and adds
// locales by adding directories. Templates see Data: the tenant's and
// inviter's names come with the Message (invites.Config.Sender), and
// RenderConfig.Extra adds the host's part (the product's name, values of
// its own templates, names that stand for the Message's). Every template
// is parsed when the Renderer is made.
//
// # Locales
//
// An invite's locale picks the closest locale with templates, by
// golang.org/x/text/language's matcher: de-AT gets de, and a locale
// matching none gets RenderConfig.DefaultLocale (en). Each file is then
// looked up along the chain locale, its parents, the default, so a host
// directory de-AT may hold only the files that differ from de.
//
// # Messages
//
// Every email has From, To, Subject, Date, Message-ID, MIME-Version and
// Content-Language headers and a multipart/alternative body of text and
// HTML, built by github.com/jordan-wright/email. The Message-ID is
// <delivery-id@from-domain>: the same on each attempt of one delivery, so
// a receiver can drop the duplicate of an at-least-once send.
//
// # SMTP
//
// NewSMTP sends over a pool of connections with STARTTLS or implicit TLS
// and AUTH PLAIN, with a connect timeout and read and write deadlines
// from each Send's context. jordan-wright/email's Pool cannot set either
// (it dials with smtp.Dial and never reaches the connection), so this
// package keeps its own small pool of net/smtp sessions in its design.
// When the server offers PIPELINING it sends MAIL, RCPT and DATA in one
// flight: two round trips a message instead of four. Domains go in
// A-labels in the envelope, and in the headers unless the server offers
// SMTPUTF8; a recipient whose local part is not ASCII needs a server that
// does (ErrNoSMTPUTF8).
// A 5xx reply to the message is permanent (errors.Is(err,
// invites.ErrPermanent)); a 4xx reply, a timeout, a refused or dropped
// connection is temporary and retried by the delivery worker. A
// connection that failed or timed out is closed, never reused.
package mailer
