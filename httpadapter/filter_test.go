package httpadapter

import (
	"context"
	"slices"
	"testing"

	"github.com/invitekit/invites"
)

// Each filter parameter reaches the Service as the operator it names.
func TestListFilterParameters(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	res, err := e.svc.Send(ctx, alice, []invites.NewInvite{
		{Email: "ann@acme.com", FirstName: "Ann", LastName: "100%", Locale: "de-AT"},
		{Email: "Bob@ACME.com", FirstName: "bob", LastName: "Smith, Jr"},
		{Email: "cy@other.io", FirstName: "Cy", LastName: "a_b"},
	})
	if err != nil || len(res.Success) != 3 {
		t.Fatal(res, err)
	}
	e.deliver()
	if _, err := e.svc.Accept(ctx, e.token("cy@other.io"), invites.Acceptor{UserID: "u-cy"}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		query string
		want  []string
	}{
		{"email[iLike]=%25@acme.com", []string{"ann@acme.com", "Bob@acme.com"}},
		{"email%5Blike%5D=b%25", nil}, // like is case-sensitive, iLike is not
		{"email[iLike]=b%25", []string{"Bob@acme.com"}},
		{"email[equalTo]=BOB@acme.com", []string{"Bob@acme.com"}},
		{"email[valueIn]=ann@acme.com,cy@other.io", []string{"ann@acme.com", "cy@other.io"}},
		{"status[valueIn]=pending,expired", []string{"ann@acme.com", "Bob@acme.com"}},
		{"status[notEqualTo]=pending", []string{"cy@other.io"}},
		{"id[equalTo]=" + res.Success[1].ID.String(), []string{"Bob@acme.com"}},
		{"id[valueNotIn]=" + res.Success[1].ID.String() + "," + res.Success[2].ID.String(), []string{"ann@acme.com"}},
		{"firstName[like]=b%25", []string{"Bob@acme.com"}},
		{"firstName[iLike]=B%25", []string{"Bob@acme.com"}},
		{"lastName[like]=%25%5C%25", []string{"ann@acme.com"}},
		{"lastName[like]=a%5C_b", []string{"cy@other.io"}},
		{"lastName[equalTo]=Smith,%20Jr", []string{"Bob@acme.com"}},
		{"locale[notEqualTo]=en-US", []string{"ann@acme.com"}},
		{"locale[valueNotIn]=de-AT", []string{"Bob@acme.com", "cy@other.io"}},
		{"createdByUserId[valueIn]=u-alice,u-other", []string{"ann@acme.com", "Bob@acme.com", "cy@other.io"}},
		{"acceptedByUserId[equalTo]=", []string{"ann@acme.com", "Bob@acme.com"}},
		{"acceptedByUserId[notEqualTo]=u-cy", []string{"ann@acme.com", "Bob@acme.com"}},
		{"acceptedByUserId[valueIn]=u-cy", []string{"cy@other.io"}},
		{"email[iLike]=%25acme%25&locale[equalTo]=en-US&status=pending", []string{"Bob@acme.com"}},
		{"search=acme&email[notEqualTo]=ann@acme.com", []string{"Bob@acme.com"}},
	} {
		w := e.do(call{method: "GET", path: "/?order=createdAt&" + c.query, as: &alice})
		var page struct{ Data []invites.Invite }
		decodeJSON(t, w.Body.Bytes(), &page)
		var got []string
		for _, inv := range page.Data {
			got = append(got, inv.Email)
		}
		if w.Code != 200 || !slices.Equal(got, c.want) {
			t.Errorf("GET /?%s: %d %v, want %v (%s)", c.query, w.Code, got, c.want, w.Body)
		}
	}
	// The names' order is the lower-cased names': bob between Ann and Cy.
	w := e.do(call{method: "GET", path: "/?order=-firstName", as: &alice})
	var page struct{ Data []invites.Invite }
	decodeJSON(t, w.Body.Bytes(), &page)
	if len(page.Data) != 3 || page.Data[0].FirstName != "Cy" || page.Data[1].FirstName != "bob" {
		t.Errorf("order=-firstName: %s", w.Body)
	}
}
