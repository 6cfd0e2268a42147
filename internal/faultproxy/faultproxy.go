// Package faultproxy is a TCP proxy for tests that can cut the line to a
// server such as PostgreSQL: Cut drops every open connection, both ways,
// and resets new ones until Restore, as a database restart or a lost
// network would look to a client. Blackhole is the quieter fault: every
// socket stays open but no byte gets through, as a firewall that drops
// packets, a NAT that forgot the flow or a host that died would look; a
// client notices only by its own deadline. The port stays bound through
// either fault, so the client's DSN keeps working once the line is back.
package faultproxy

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Stats counts what the proxy saw.
type Stats struct {
	Forwarded int // connections joined to the server
	Refused   int // connections reset because the line was cut
	Dropped   int // open connections a cut closed
	Swallowed int // connections a blackhole holds open and forwards nothing on
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
	hole    bool        // blackholed: hold sockets open, forward nothing
	restore *time.Timer // a pending CutFor's end
	open    map[*link]struct{}
	stats   Stats
	closed  bool
}

// link is one client connection and its server connection (nil when a
// blackhole swallowed the connection before it was joined).
type link struct {
	client, server net.Conn
	once           sync.Once
	// stalled is set by a blackhole and never cleared: the bytes it
	// dropped leave the stream out of step, as after a NAT forgot the
	// flow, so the link stays dead until either end closes it.
	stalled atomic.Bool
}

func (l *link) close() {
	l.once.Do(func() {
		l.client.Close()
		if l.server != nil {
			l.server.Close()
		}
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

// Blackhole stops forwarding without closing anything: every open
// connection stays open on both sides and the proxy reads and discards
// what either end sends, and new connections are accepted but never joined
// to the server, until Restore. Connections open during the blackhole stay
// dead after Restore (their bytes are lost), so the client gets no error
// at all: it must give up on them by its own deadline.
func (p *Proxy) Blackhole() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.hole = true
	p.stopTimer()
	for l := range p.open {
		if !l.stalled.Swap(true) {
			p.stats.Swallowed++
		}
	}
}

// BlackholeFor blackholes the line and restores it after d.
func (p *Proxy) BlackholeFor(d time.Duration) {
	p.Blackhole()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.restore = time.AfterFunc(d, p.Restore)
}

// Restore ends a cut or a blackhole: new connections get through again
// (those a cut closed stay closed, those a blackhole swallowed stay dead).
func (p *Proxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = false
	p.hole = false
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
// ends or a cut closes them. While the line is cut, c is reset at once;
// while it is blackholed, c is held open and what it sends is discarded.
func (p *Proxy) join(c net.Conn) {
	if p.isCut() {
		reset(c)
		return
	}
	if p.swallow(c) {
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
	if p.hole { // blackholed while dialing
		l.stalled.Store(true)
		p.stats.Swallowed++
	} else {
		p.stats.Forwarded++
	}
	p.open[l] = struct{}{}
	p.mu.Unlock()

	var both sync.WaitGroup
	both.Go(func() { l.pipe(s, c) })
	both.Go(func() { l.pipe(c, s) })
	both.Wait()
	p.forget(l)
}

// swallow holds c open without a server while the line is blackholed,
// discarding what it sends until it or the proxy closes it, and reports
// whether it did.
func (p *Proxy) swallow(c net.Conn) bool {
	p.mu.Lock()
	if !p.hole || p.closed {
		p.mu.Unlock()
		return false
	}
	l := &link{client: c}
	l.stalled.Store(true)
	p.open[l] = struct{}{}
	p.stats.Swallowed++
	p.mu.Unlock()
	buf := make([]byte, 32<<10)
	for {
		if _, err := c.Read(buf); err != nil {
			break
		}
	}
	l.close()
	p.forget(l)
	return true
}

func (p *Proxy) forget(l *link) {
	p.mu.Lock()
	delete(p.open, l)
	p.mu.Unlock()
}

// pipe copies src to dst until either fails, then closes the link. Once
// the link is stalled it keeps reading src, so the sender's writes
// succeed as they would into a silent network, and drops the bytes.
func (l *link) pipe(dst, src net.Conn) {
	defer l.close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !l.stalled.Load() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
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
