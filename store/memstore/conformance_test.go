package memstore_test

import (
	"testing"

	"github.com/invitekit/invites"
	"github.com/invitekit/invites/store/memstore"
	"github.com/invitekit/invites/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(*testing.T) invites.Store { return memstore.New() })
}
