package memstore

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
)

// BenchmarkListAtBounds lists a tenant of 5,000 invites with every email
// list at invites.MaxFilterValues: the time memstore's lock is held by
// the largest query the Service lets through.
func BenchmarkListAtBounds(b *testing.B) {
	s := New()
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	rows := make([]invites.Invite, 5_000)
	for i := range rows {
		rows[i] = invites.Invite{ID: uuid.New(), TenantID: "big", Email: fmt.Sprintf("User%d@Example.com", i),
			FirstName: fmt.Sprintf("First%d", i), Locale: "en-US", Status: invites.StatusPending, ExpiresAt: now.Add(time.Hour),
			CreatedByUserID: "u", CreatedAt: now, UpdatedAt: now, StatusUpdatedAt: now, LastSentAt: now, SendCount: 1}
	}
	if _, err := s.Insert(b.Context(), invites.InsertParams{LedgerKey: ledgerKey, Now: now, Invites: rows}); err != nil {
		b.Fatal(err)
	}
	emails := make([]string, invites.MaxFilterValues)
	for i := range emails {
		emails[i] = fmt.Sprintf(" Nobody%d@Example.org ", i)
	}
	p := invites.ListParams{TenantID: "big", Now: now, Limit: 21, Order: invites.Order{Field: invites.OrderCreatedAt},
		Where: invites.Filter{Email: invites.StringFilter{ValueFilter: invites.ValueFilter{ValueNotIn: emails},
			ILike: strings.Repeat("%", 2*invites.MaxEmailBytes-1) + "m"}}}
	b.ResetTimer()
	for range b.N {
		if _, total, err := s.List(b.Context(), p); err != nil || total != 5_000 {
			b.Fatal(total, err)
		}
	}
}
