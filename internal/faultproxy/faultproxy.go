// Package faultproxy is a TCP proxy for tests that can cut the line to a
// server such as PostgreSQL: Cut drops every open connection, both ways,
// and resets new ones until Restore, as a database restart or a lost
// network would look to a client. The port stays bound through a cut, so
// the client's DSN keeps working once the line is back.
package faultproxy

import (
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// Stats counts what the proxy saw.
type Stats struct {
	Forwarded int // connections joined to the server
	Refused   int // connections reset because the line was cut
	Dropped   int // open connections a cut closed
}

// Proxy forwards connections on Addr to its server. Its methods are safe
// for concurrent use.
type Proxy struct {
	// Addr is the proxy's host:port on 127.0.0.1.
	Addr string

	upstream string
	ln       net.Listener
	wg       sync.WaitGroup

	mu      sync.Mutex
	cut     bool
	restore *time.Timer // a pending CutFor's end
	open    map[*link]struct{}
	stats   Stats
	closed  bool
}

// link is one client connection and its server connection.
type link struct {
	client, server net.Conn
	once           sync.Once
}

func (l *link) close() {
	l.once.Do(func() {
		l.client.Close()
		l.server.Close()
	})
}

// New starts a proxy to upstream (host:port) and closes it when the test
// ends.
func New(tb testing.TB, upstream string) *Proxy {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("faultproxy: %v", err)
	}
	p := &Proxy{Addr: ln.Addr().String(), upstream: upstream, ln: ln, open: map[*link]struct{}{}}
	p.wg.Go(p.serve)
	tb.Cleanup(p.Close)
	return p
}

// Cut closes every open connection and resets new ones until Restore.
func (p *Proxy) Cut() {
	p.mu.Lock()
	p.cut = true
	p.stopTimer()
	links := p.take()
	p.stats.Dropped += len(links)
	p.mu.Unlock()
	for _, l := range links {
		l.close()
	}
}

// CutFor cuts the line and restores it after d.
func (p *Proxy) CutFor(d time.Duration) {
	p.Cut()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.restore = time.AfterFunc(d, p.Restore)
}

// Restore lets new connections through again (those the cut closed stay
// closed).
func (p *Proxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = false
	p.stopTimer()
}

// Stats returns the counts so far.
func (p *Proxy) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stats
}

// Close stops the proxy and closes every connection.
func (p *Proxy) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	p.stopTimer()
	links := p.take()
	p.mu.Unlock()
	p.ln.Close()
	for _, l := range links {
		l.close()
	}
	p.wg.Wait()
}

// take empties the set of open links and returns them. Call with mu held.
func (p *Proxy) take() []*link {
	out := make([]*link, 0, len(p.open))
	for l := range p.open {
		out = append(out, l)
		delete(p.open, l)
	}
	return out
}

// stopTimer cancels a pending CutFor's restore. Call with mu held.
func (p *Proxy) stopTimer() {
	if p.restore != nil {
		p.restore.Stop()
		p.restore = nil
	}
}

func (p *Proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			continue // a client that gave up before accept
		}
		p.wg.Go(func() { p.join(c) })
	}
}

// join connects c to the server and copies both ways until either side
// ends or a cut closes them. While the line is cut, c is reset at once.
func (p *Proxy) join(c net.Conn) {
	if p.isCut() {
		reset(c)
		return
	}
	s, err := net.DialTimeout("tcp", p.upstream, 5*time.Second)
	if err != nil {
		reset(c)
		return
	}
	l := &link{client: c, server: s}
	p.mu.Lock()
	if p.cut || p.closed { // cut while dialing
		p.stats.Refused++
		p.mu.Unlock()
		s.Close()
		reset(c)
		return
	}
	p.open[l] = struct{}{}
	p.stats.Forwarded++
	p.mu.Unlock()

	var both sync.WaitGroup
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		l.close()
	}
	both.Go(func() { pipe(s, c) })
	both.Go(func() { pipe(c, s) })
	both.Wait()
	p.mu.Lock()
	delete(p.open, l)
	p.mu.Unlock()
}

// isCut reports whether the line is cut, counting the refusal if so.
func (p *Proxy) isCut() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut {
		p.stats.Refused++
	}
	return p.cut
}

// reset closes c with a RST rather than a FIN, as a host with nothing
// listening answers, so the client fails at once instead of reading EOF
// later.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	c.Close()
}
