package bouncehook

import (
	"testing"
	"time"
)

func TestRecent(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	type step struct {
		op   string // claim or release
		key  string
		at   time.Duration // after t0
		want claim         // for claim
	}
	for _, tc := range []struct {
		name  string
		ttl   time.Duration
		max   int
		evict bool
		steps []step
	}{
		{"a key is claimed once", 0, 3, true, []step{
			{"claim", "a", 0, claimed}, {"claim", "a", 0, known}, {"claim", "b", 0, claimed},
		}},
		{"released, a key is claimed again", 0, 3, true, []step{
			{"claim", "a", 0, claimed}, {"release", "a", 0, 0}, {"claim", "a", 0, claimed}, {"claim", "a", 0, known},
		}},
		{"full, the oldest is evicted", 0, 2, true, []step{
			{"claim", "a", 0, claimed}, {"claim", "b", 0, claimed}, {"claim", "c", 0, claimed},
			{"claim", "b", 0, known}, {"claim", "c", 0, known}, {"claim", "a", 0, claimed},
		}},
		{"full of live keys, a new one is refused", time.Minute, 2, false, []step{
			{"claim", "a", 0, claimed}, {"claim", "b", time.Second, claimed}, {"claim", "c", 30 * time.Second, full},
			{"claim", "a", 59 * time.Second, known},
			{"claim", "c", time.Minute, claimed}, // a expired
			{"claim", "b", time.Minute, known},
		}},
		{"a key expires after ttl", time.Minute, 10, false, []step{
			{"claim", "a", 0, claimed}, {"claim", "a", 59 * time.Second, known}, {"claim", "a", time.Minute, claimed},
		}},
		{"a released key's old entry does not expire it", time.Minute, 10, false, []step{
			{"claim", "a", 0, claimed}, {"release", "a", 0, 0}, {"claim", "a", 30 * time.Second, claimed},
			{"claim", "a", 61 * time.Second, known}, {"claim", "a", 90 * time.Second, claimed},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newRecent(tc.ttl, tc.max, tc.evict)
			for i, s := range tc.steps {
				if s.op == "release" {
					c.release(s.key)
					continue
				}
				if got := c.claim(s.key, t0.Add(s.at)); got != s.want {
					t.Fatalf("step %d: claim(%q, +%s) = %d, want %d", i, s.key, s.at, got, s.want)
				}
			}
		})
	}
}
