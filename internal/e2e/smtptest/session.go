package smtptest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"math/big"
	"net"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

type backend struct{ s *Server }

func (b backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	sess := &session{s: b.s, c: c}
	if b.s.users != nil {
		return &authSession{sess}, nil
	}
	return sess, nil
}

// session is one SMTP session; go-smtp calls it from one goroutine.
type session struct {
	s    *Server
	c    *smtp.Conn
	user string
	from string
	mail smtp.MailOptions
	to   []string
}

// refusal is the reply a fault gives with code.
func refusal(code int) *smtp.SMTPError {
	return &smtp.SMTPError{
		Code:         code,
		EnhancedCode: smtp.EnhancedCode{code / 100, 0, 0},
		Message:      fmt.Sprintf("smtptest refuses with %d", code),
	}
}

func (s *session) Mail(from string, opts *smtp.MailOptions) error {
	if s.s.users != nil && s.user == "" {
		return smtp.ErrAuthRequired
	}
	s.s.update(func(st *Stats) { st.Transactions++ })
	s.from, s.mail, s.to = from, *opts, nil
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if f, _ := s.s.current(); f.RefuseRcpt != 0 {
		r := refusal(f.RefuseRcpt)
		if f.RcptReply != nil {
			r.EnhancedCode = smtp.EnhancedCode{f.RefuseRcpt / 100, 1, 1} // bad destination mailbox
			r.Message = f.RcptReply(to)
		}
		return r
	}
	s.to = append(s.to, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	f, release := s.s.current()
	if f.DropMidData {
		// Whatever came, the connection goes; counted first, as the client
		// sees the drop at once.
		io.ReadFull(r, make([]byte, 64))
		s.s.update(func(st *Stats) { st.Drops++ })
		s.c.Conn().Close()
		return refusal(421)
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if f.Stall {
		s.s.update(func(st *Stats) { st.Stalls++ })
		<-release
		return refusal(451)
	}
	if f.RefuseData != 0 {
		return refusal(f.RefuseData)
	}
	msg := Message{From: s.from, To: append([]string(nil), s.to...), Mail: s.mail, Data: bytes.Clone(data), User: s.user}
	s.s.update(func(st *Stats) {
		st.Messages++
		s.s.msgs = append(s.s.msgs, msg)
	})
	return nil
}

func (s *session) Reset()        { s.from, s.mail, s.to = "", smtp.MailOptions{}, nil }
func (s *session) Logout() error { return nil }

// authSession adds AUTH PLAIN, which go-smtp offers only over TLS.
type authSession struct{ *session }

func (s *authSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *authSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if want, ok := s.s.users[user]; !ok || want != pass {
			return smtp.ErrAuthFailed
		}
		s.user = user
		return nil
	}), nil
}

// selfSigned makes a certificate for 127.0.0.1 and localhost, and the
// server and client TLS configs that use and trust it.
func selfSigned() (server, client *tls.Config, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "smtptest"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	server = &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}},
		MinVersion:   tls.VersionTLS12,
	}
	client = &tls.Config{RootCAs: roots, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
	return server, client, nil
}
