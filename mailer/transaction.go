package mailer

import (
	"errors"
	"fmt"
	"net/textproto"
)

// mail sends one message over the session: pipelined when the server
// offers PIPELINING (RFC 2920) and the addresses are ASCII, else one
// command at a time by net/smtp.
func (s *session) mail(from, to string, msg []byte) (string, error) {
	if s.pipelining && ascii(from) && ascii(to) {
		return s.pipelined(from, to, msg)
	}
	if err := s.c.Mail(from); err != nil {
		return stepMail, err
	}
	if err := s.c.Rcpt(to); err != nil {
		return stepRcpt, err
	}
	w, err := s.c.Data()
	if err != nil {
		return stepData, err
	}
	if _, err := w.Write(msg); err != nil {
		return stepData, err
	}
	return stepData, w.Close()
}

// pipelined sends MAIL, RCPT and DATA in one write and the message after
// the 354: two round trips instead of four, which is most of a send to a
// distant server. It speaks through net/smtp's Text, which that package
// exports for extensions; the body is 7-bit (quoted-printable), so MAIL
// needs no BODY parameter.
func (s *session) pipelined(from, to string, msg []byte) (string, error) {
	t := s.c.Text
	fmt.Fprintf(t.W, "MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nDATA\r\n", from, to)
	if err := t.W.Flush(); err != nil {
		return stepMail, err
	}
	var refused error
	var refusedAt string
	for _, r := range []struct {
		step string
		code int
	}{{stepMail, 250}, {stepRcpt, 25}, {stepData, 354}} {
		_, _, err := t.ReadResponse(r.code)
		var reply *textproto.Error
		switch {
		case err == nil && r.step == stepData && refused != nil:
			// A server that opens DATA after refusing MAIL or RCPT:
			// the session is mid-message, so it cannot be reset.
			s.spent = true
		case err == nil:
		case !errors.As(err, &reply):
			if refused != nil { // the connection went after a refusal, which says more
				return refusedAt, refused
			}
			return r.step, err
		case refused == nil:
			refused, refusedAt = err, r.step
		}
	}
	if refused != nil {
		return refusedAt, refused
	}
	w := t.DotWriter()
	if _, err := w.Write(msg); err != nil {
		return stepData, err
	}
	if err := w.Close(); err != nil {
		return stepData, err
	}
	_, _, err := t.ReadResponse(250)
	return stepData, err
}

func ascii(s string) bool {
	for i := range len(s) {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
