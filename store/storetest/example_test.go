package storetest_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/invitekit/invites"
	"github.com/invitekit/invites/store/memstore"
	"github.com/invitekit/invites/store/storetest"
)

// This file is the example of a store of one's own run against the suite:
// memstore behind a wrapper that counts the changes it made, as a host's
// store adding metrics to another might. A store written from scratch
// runs the same way.

// countingStore counts the Changes that changed an invite. It passes on
// the optional invites.UpkeepStore too: a wrapper that embeds only
// invites.Store hides Prune and Forget from the Service.
type countingStore struct {
	invites.Store
	invites.UpkeepStore
	changes *atomic.Int64
}

func (s countingStore) Change(ctx context.Context, p invites.ChangeParams) (invites.Invite, error) {
	inv, err := s.Store.Change(ctx, p)
	if err == nil {
		s.changes.Add(1)
	}
	return inv, err
}

func TestCountingStore(t *testing.T) {
	var changes atomic.Int64
	t.Run("Conformance", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) invites.Store {
			s := memstore.New()
			return countingStore{Store: s, UpkeepStore: s, changes: &changes}
		})
	})
	if changes.Load() == 0 {
		t.Fatal("the suite ran no Change through the wrapper")
	}
}

// A store of the required interfaces only, no invites.UpkeepStore, passes
// the suite: the cases of Prune and Forget skip, and no other case needs
// them.
func TestStoreWithoutUpkeep(t *testing.T) {
	storetest.Run(t, func(t *testing.T) invites.Store {
		s := memstore.New()
		return struct {
			invites.InviteStore
			invites.OutboxStore
			invites.EventStore
			invites.SuppressionStore
		}{s, s, s, s}
	})
}
