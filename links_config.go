package invites

import (
	"errors"
	"math"
	"time"
)

// The defaults of Config's link fields.
const (
	DefaultMaxLinkUses       = 1000
	DefaultMaxLinkTTL        = 30 * 24 * time.Hour
	DefaultMaxActiveLinks    = 100
	DefaultLinkUsesPerMinute = 30
)

// linkDefaults fills the zero link fields of c, and turns the limits -1
// switches off into values no count reaches.
func (c Config) linkDefaults() Config {
	if c.MaxLinkUses == 0 {
		c.MaxLinkUses = DefaultMaxLinkUses
	}
	if c.MaxLinkTTL == 0 {
		c.MaxLinkTTL = DefaultMaxLinkTTL
	}
	switch c.MaxActiveLinks {
	case 0:
		c.MaxActiveLinks = DefaultMaxActiveLinks
	case -1:
		c.MaxActiveLinks = 0 // CreateLinkParams.MaxActive's off
	}
	switch c.LinkUsesPerMinute {
	case 0:
		c.LinkUsesPerMinute = DefaultLinkUsesPerMinute
	case -1:
		c.LinkUsesPerMinute = math.MaxInt32
	}
	return c
}

// validLinks refuses link fields no default mends.
func (c Config) validLinks() error {
	if c.MaxLinkUses < 1 || c.MaxLinkUses > math.MaxInt32 {
		return errors.New("invites: Config.MaxLinkUses must be from 1 to 2147483647")
	}
	if c.MaxLinkTTL < 0 {
		return errors.New("invites: Config.MaxLinkTTL must not be negative")
	}
	if c.MaxActiveLinks < 0 || c.LinkUsesPerMinute < 1 {
		return errors.New("invites: Config.MaxActiveLinks and LinkUsesPerMinute must be positive, or -1 for off")
	}
	return nil
}
