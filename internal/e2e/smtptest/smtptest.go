// Package smtptest runs a real SMTP server (github.com/emersion/go-smtp) on
// 127.0.0.1 for tests. It records the messages it accepts and can be told
// to misbehave the ways real mail servers do: be down, refuse with a 4xx
// or 5xx reply, stall before answering, or drop the connection mid-DATA.
package smtptest

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"log"
	"net"
	"sync"
	"testing"

	"github.com/emersion/go-smtp"
)

// Message is one message the server accepted.
type Message struct {
	From string   // MAIL FROM's address as received
	To   []string // the RCPT TO addresses as received
	// Mail is MAIL FROM's parameters as the server parsed them: UTF8 is
	// SMTPUTF8 (RFC 6531), Body is BODY (8BITMIME).
	Mail smtp.MailOptions
	Data []byte // as received: headers, blank line, body, CRLF line ends
	User string // the authenticated user, if any
}

// Fault is how the server misbehaves from now on; the zero Fault is a
// healthy server.
type Fault struct {
	// Down resets every new connection at once and drops the open ones,
	// as a mail host whose server process is gone. The port stays bound,
	// so coming back up never races another process for it.
	Down bool
	// RefuseRcpt, when set, is the reply code to every RCPT TO.
	RefuseRcpt int
	// RcptReply, when set, writes RefuseRcpt's text from the recipient
	// as the client named it: servers often echo it ("<a@b.c>: unknown
	// user").
	RcptReply func(to string) string
	// RefuseData, when set, is the reply code after the message data.
	RefuseData int
	// Stall reads the message data and then never answers, until the
	// fault is changed or the server closed.
	Stall bool
	// DropMidData closes the connection after the first bytes of the
	// message data.
	DropMidData bool
}

// Stats counts what the server saw. Each count moves before the client
// can see the event, so a test may read Stats as soon as its call returns.
type Stats struct {
	Connections  int // accepted and handed to the SMTP server
	Resets       int // connections reset while Down
	Transactions int // MAIL FROM commands
	Messages     int // messages accepted
	Stalls       int // sessions that began to stall
	Drops        int // connections dropped mid-DATA
}

// TLSMode is how the server offers TLS.
type TLSMode int

// The TLS modes.
const (
	NoTLS       TLSMode = iota // plain SMTP
	StartTLS                   // STARTTLS offered
	ImplicitTLS                // TLS from the first byte, as on port 465
)

// Options configures a Server; the zero value is a plain server without
// authentication.
type Options struct {
	TLS TLSMode
	// Users, when set, turns on AUTH PLAIN (offered only over TLS) with
	// these user names and passwords, and refuses MAIL FROM before it.
	Users map[string]string
	// NoPipelining hides PIPELINING from the EHLO reply, as servers that
	// do not offer it: the client then sends one command at a time.
	NoPipelining bool
	// SMTPUTF8 offers RFC 6531's extension: addresses and headers in
	// UTF-8. Without it the server refuses a MAIL FROM that announces it.
	SMTPUTF8 bool
}

// Server is a running SMTP server. Its methods are safe for concurrent use.
type Server struct {
	// Addr is the server's host:port on 127.0.0.1.
	Addr string

	srv       *smtp.Server
	ln        *listener
	clientTLS *tls.Config
	users     map[string]string
	noPipe    bool

	mu      sync.Mutex
	fault   Fault
	release chan struct{} // closed when the current fault ends, freeing stalls
	changed chan struct{} // closed and replaced whenever stats change
	stats   Stats
	msgs    []Message
	closed  bool
}

// New starts a server and closes it when the test ends.
func New(tb testing.TB, opts Options) *Server {
	tb.Helper()
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("smtptest: %v", err)
	}
	s := &Server{
		Addr:    raw.Addr().String(),
		users:   opts.Users,
		noPipe:  opts.NoPipelining,
		release: make(chan struct{}),
		changed: make(chan struct{}),
	}
	s.ln = &listener{Listener: raw, s: s, open: map[net.Conn]struct{}{}}
	s.srv = smtp.NewServer(backend{s})
	s.srv.Domain = "smtptest.localhost"
	s.srv.EnableSMTPUTF8 = opts.SMTPUTF8
	s.srv.ErrorLog = log.New(io.Discard, "", 0)
	var ln net.Listener = s.ln
	if opts.TLS != NoTLS {
		serverTLS, clientTLS, err := selfSigned()
		if err != nil {
			tb.Fatalf("smtptest: %v", err)
		}
		s.clientTLS = clientTLS
		switch opts.TLS {
		case StartTLS:
			s.srv.TLSConfig = serverTLS
		case ImplicitTLS:
			ln = tls.NewListener(ln, serverTLS)
		}
	}
	go s.srv.Serve(ln)
	tb.Cleanup(s.Close)
	return s
}

// ClientTLS returns a TLS config that trusts the server's certificate
// (nil for a NoTLS server).
func (s *Server) ClientTLS() *tls.Config {
	if s.clientTLS == nil {
		return nil
	}
	return s.clientTLS.Clone()
}

// Set makes the server behave as f says from now on. Stalled sessions
// are let go (their clients have given up or will); going Down drops
// every open connection.
func (s *Server) Set(f Fault) {
	s.mu.Lock()
	s.fault = f
	close(s.release)
	s.release = make(chan struct{})
	s.mu.Unlock()
	if f.Down {
		s.ln.dropAll()
	}
}

// Messages returns the accepted messages, oldest first.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// Stats returns the counts so far.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// Reset forgets messages and counts; the fault stays.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs, s.stats = nil, Stats{}
}

// Await blocks until cond holds for the stats, or ctx ends. It wakes on
// every change, so no polling interval hides or delays an event.
func (s *Server) Await(ctx context.Context, cond func(Stats) bool) error {
	for {
		s.mu.Lock()
		ok, changed := cond(s.stats), s.changed
		s.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Close stops the server, drops its connections and lets stalls go.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	close(s.release)
	s.mu.Unlock()
	s.srv.Close()
	s.ln.dropAll()
}

// update changes the stats (and messages) under the lock and wakes Await.
func (s *Server) update(f func(*Stats)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(&s.stats)
	close(s.changed)
	s.changed = make(chan struct{})
}

// current returns the fault in force and the channel that closes when it
// ends.
func (s *Server) current() (Fault, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fault, s.release
}

// listener hands connections to the SMTP server, or resets them while the
// server is Down, and keeps the open ones so Down can drop them.
type listener struct {
	net.Listener
	s    *Server
	mu   sync.Mutex
	open map[net.Conn]struct{}
}

func (l *listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if f, _ := l.s.current(); f.Down {
			l.s.update(func(st *Stats) { st.Resets++ }) // counted first: the client sees the reset at once
			if tc, ok := c.(*net.TCPConn); ok {
				tc.SetLinger(0) // a RST rather than a FIN
			}
			c.Close()
			continue
		}
		l.mu.Lock()
		l.open[c] = struct{}{}
		l.mu.Unlock()
		l.s.update(func(st *Stats) { st.Connections++ })
		return &conn{Conn: c, l: l, noPipe: l.s.noPipe}, nil
	}
}

func (l *listener) dropAll() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for c := range l.open {
		c.Close()
		delete(l.open, c)
	}
}

type conn struct {
	net.Conn
	l      *listener
	once   sync.Once
	noPipe bool
}

// Write drops the PIPELINING line of the EHLO reply when the server
// hides it. go-smtp writes the reply in one flush, so the line is never
// split across writes.
func (c *conn) Write(b []byte) (int, error) {
	if !c.noPipe || !bytes.Contains(b, []byte("PIPELINING\r\n")) {
		return c.Conn.Write(b)
	}
	out := bytes.Replace(b, []byte("250-PIPELINING\r\n"), nil, 1)
	if _, err := c.Conn.Write(out); err != nil {
		return 0, err
	}
	return len(b), nil
}

func (c *conn) Close() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		delete(c.l.open, c.Conn)
		c.l.mu.Unlock()
	})
	return c.Conn.Close()
}
