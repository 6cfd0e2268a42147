package mailer

import (
	"errors"
	"fmt"
	"net/textproto"
)

// letter is one message as the pool sends it: its envelope and the
// message for a server with SMTPUTF8 (RFC 6531) and for one without.
type letter struct {
	from string // MAIL FROM: ASCII, its domain in A-labels
	rcpt string // RCPT TO: the domain in A-labels
	// ascii is the message with every header in ASCII; nil when the
	// recipient's local part is not ASCII, as no ASCII form of it exists.
	ascii []byte
	// utf8 is the message with the recipient as stored, in UTF-8 headers
	// (RFC 6532); nil for an ASCII address, which needs no extension.
	utf8 []byte
}

// pick returns the message for a server that offers SMTPUTF8 or not, and
// whether MAIL FROM announces it: only for a message that needs it.
func (l letter) pick(smtputf8 bool) ([]byte, bool, error) {
	switch {
	case smtputf8 && l.utf8 != nil:
		return l.utf8, true, nil
	case l.ascii != nil:
		return l.ascii, false, nil
	}
	return nil, false, ErrNoSMTPUTF8
}

// mailFrom is the MAIL command. SMTPUTF8 comes with BODY=8BITMIME, as the
// message's headers are then 8-bit (RFC 6531 has a server offering it
// offer 8BITMIME too); an ASCII message is 7-bit (quoted-printable) and
// needs no parameter.
func mailFrom(from string, smtputf8 bool) string {
	if smtputf8 {
		return "MAIL FROM:<" + from + "> BODY=8BITMIME SMTPUTF8"
	}
	return "MAIL FROM:<" + from + ">"
}

// mail sends one message over the session: pipelined when the server
// offers PIPELINING (RFC 2920), else one command at a time. MAIL is
// written here in both, as net/smtp's Client.Mail announces SMTPUTF8 to
// every server that offers it, whatever the message; RCPT and DATA are
// net/smtp's.
func (s *session) mail(from, to string, smtputf8 bool, msg []byte) (string, error) {
	if s.pipelining {
		return s.pipelined(mailFrom(from, smtputf8), to, msg)
	}
	if err := s.cmd(250, mailFrom(from, smtputf8)); err != nil {
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

// cmd sends line and reads its reply, which must have code.
func (s *session) cmd(code int, line string) error {
	t := s.c.Text
	id, err := t.Cmd("%s", line)
	if err != nil {
		return err
	}
	t.StartResponse(id)
	defer t.EndResponse(id)
	_, _, err = t.ReadResponse(code)
	return err
}

// pipelined sends the MAIL command mail, RCPT and DATA in one write and
// the message after the 354: two round trips instead of four, which is
// most of a send to a distant server. It speaks through net/smtp's Text,
// which that package exports for extensions.
func (s *session) pipelined(mail, to string, msg []byte) (string, error) {
	t := s.c.Text
	fmt.Fprintf(t.W, "%s\r\nRCPT TO:<%s>\r\nDATA\r\n", mail, to)
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
