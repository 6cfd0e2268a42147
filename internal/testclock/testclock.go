// Package testclock is a clock that tests move by hand, to give
// invites.Config.Now: expiry, cooldowns and backoff are tested by moving
// it, not by sleeping.
package testclock

import (
	"sync"
	"time"
)

// Clock is a time that changes only by Advance. It is safe for concurrent
// use, since the delivery worker reads it from its own goroutines.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// New returns a Clock at t.
func New(t time.Time) *Clock { return &Clock{now: t} }

// Now is the clock's time; pass it as invites.Config.Now.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
