package faultproxy_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/invitekit/invites/internal/faultproxy"
)

// echo starts a server that sends back each line it reads.
func echo(t *testing.T) string {
	addr, _ := echoCounting(t)
	return addr
}

// echoCounting is echo that also counts the connections it has open.
func echoCounting(t *testing.T) (string, *atomic.Int64) {
	t.Helper()
	var open atomic.Int64
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			open.Add(1)
			go func() {
				defer open.Add(-1)
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String(), &open
}

// roundTrip writes a line on c and reads it back.
func roundTrip(c net.Conn, line string) error {
	return roundTripWithin(c, line, 2*time.Second)
}

// roundTripWithin is roundTrip with the deadline d.
func roundTripWithin(c net.Conn, line string, d time.Duration) error {
	c.SetDeadline(time.Now().Add(d))
	if _, err := io.WriteString(c, line+"\n"); err != nil {
		return err
	}
	got, err := bufio.NewReader(c).ReadString('\n')
	if err == nil && got != line+"\n" {
		err = errors.New("echoed " + got)
	}
	return err
}

// fresh round-trips a line on a new connection through p and returns the
// connection, or the error of the dial or the round trip.
func fresh(t *testing.T, p *faultproxy.Proxy) (net.Conn, error) {
	t.Helper()
	c, err := net.Dial("tcp", p.Addr)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { c.Close() })
	return c, roundTrip(c, "hello")
}

// working fails the test unless a new connection through p round-trips.
func working(t *testing.T, p *faultproxy.Proxy) net.Conn {
	t.Helper()
	c, err := fresh(t, p)
	if err != nil {
		t.Fatalf("through the proxy: %v", err)
	}
	return c
}

// A cut fails the open connections and new ones at once, without waiting
// for a timeout; Restore lets new ones through.
func TestCutAndRestore(t *testing.T) {
	p := faultproxy.New(t, echo(t))
	open := working(t, p)
	p.Cut()
	start := time.Now()
	if err := roundTrip(open, "after the cut"); err == nil {
		t.Fatal("an open connection still works after Cut")
	}
	if _, err := fresh(t, p); err == nil {
		t.Fatal("a new connection works while cut")
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("failing took %v, want at once", d)
	}
	p.Restore()
	working(t, p)
	if err := roundTrip(open, "again"); err == nil {
		t.Fatal("a connection the cut closed came back")
	}
	if st := p.Stats(); st.Forwarded != 2 || st.Refused != 1 || st.Dropped != 1 {
		t.Fatalf("stats %+v, want 2 forwarded, 1 refused, 1 dropped", st)
	}
}

// CutFor restores the line by itself.
func TestCutFor(t *testing.T) {
	p := faultproxy.New(t, echo(t))
	p.CutFor(200 * time.Millisecond)
	if _, err := fresh(t, p); err == nil {
		t.Fatal("a new connection works during CutFor")
	}
	time.Sleep(300 * time.Millisecond)
	working(t, p)
	// A Cut after a CutFor holds: the earlier restore is called off.
	p.CutFor(100 * time.Millisecond)
	p.Cut()
	time.Sleep(200 * time.Millisecond)
	if _, err := fresh(t, p); err == nil {
		t.Fatal("a Cut was restored by an earlier CutFor's timer")
	}
}

// A server that is not there fails the client's connection, not the proxy.
func TestUpstreamDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	p := faultproxy.New(t, addr)
	if _, err := fresh(t, p); err == nil {
		t.Fatal("a round trip to no server worked")
	}
}

// Close ends every connection and may be called again.
func TestClose(t *testing.T) {
	p := faultproxy.New(t, echo(t))
	open := working(t, p)
	p.Close()
	p.Close()
	if err := roundTrip(open, "closed"); err == nil {
		t.Fatal("a connection works after Close")
	}
	if _, err := net.DialTimeout("tcp", p.Addr, time.Second); err == nil {
		t.Fatal("the proxy still accepts after Close")
	}
}

// silent fails the test unless a round trip on c gets no answer and no
// error but the deadline's: the write goes out, nothing comes back, the
// socket stays open.
func silent(t *testing.T, c net.Conn, what string) {
	t.Helper()
	if err := roundTripWithin(c, "into the void", 200*time.Millisecond); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("%s: round trip ended with %v, want the deadline", what, err)
	}
}

// A blackhole keeps every socket open, both ways, and forwards nothing:
// the client sees no error but its own deadline, the server sees no close.
// After Restore new connections work; the swallowed ones stay dead.
func TestBlackhole(t *testing.T) {
	addr, serverOpen := echoCounting(t)
	p := faultproxy.New(t, addr)
	open := working(t, p)
	p.Blackhole()
	silent(t, open, "an open connection")
	c, err := net.DialTimeout("tcp", p.Addr, time.Second)
	if err != nil {
		t.Fatalf("a new connection during the blackhole was refused: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	silent(t, c, "a new connection")
	if n := serverOpen.Load(); n != 1 {
		t.Fatalf("the server has %d connections open, want the first one still", n)
	}
	p.Restore()
	working(t, p)
	silent(t, open, "a swallowed connection after Restore")
	silent(t, c, "a connection swallowed before it was joined, after Restore")
	if st := p.Stats(); st.Forwarded != 2 || st.Swallowed != 2 || st.Refused != 0 || st.Dropped != 0 {
		t.Fatalf("stats %+v, want 2 forwarded, 2 swallowed", st)
	}
	// A Cut closes what the blackhole holds.
	p.Cut()
	if err := roundTrip(open, "after the cut"); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a swallowed connection after Cut: %v, want it closed", err)
	}
	if st := p.Stats(); st.Dropped != 3 {
		t.Fatalf("stats %+v, want the 3 open connections dropped", st)
	}
}

// BlackholeFor restores the line by itself, and Close ends the
// connections a blackhole holds.
func TestBlackholeFor(t *testing.T) {
	p := faultproxy.New(t, echo(t))
	p.BlackholeFor(300 * time.Millisecond)
	held, err := net.Dial("tcp", p.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	silent(t, held, "a new connection during BlackholeFor")
	time.Sleep(200 * time.Millisecond)
	working(t, p)
	p.Close()
	if err := roundTrip(held, "closed"); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a held connection after Close: %v, want it closed", err)
	}
}
