package faultproxy_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/invitekit/invites/internal/faultproxy"
)

// echo starts a server that sends back each line it reads.
func echo(t *testing.T) string {
	t.Helper()
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
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String()
}

// roundTrip writes a line on c and reads it back.
func roundTrip(c net.Conn, line string) error {
	c.SetDeadline(time.Now().Add(2 * time.Second))
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
