package invites

import "context"

// boundLinks is the LinkStore of a store that has it, each call within
// the bound of the Store's other methods.
type boundLinks struct {
	b bounded
	l LinkStore
}

// boundedLinks and boundedUpkeepLinks are bounded and boundedUpkeep over
// a store that is also a LinkStore (see bound).
type (
	boundedLinks struct {
		bounded
		boundLinks
	}
	boundedUpkeepLinks struct {
		boundedUpkeep
		boundLinks
	}
)

var (
	_ LinkStore   = boundedLinks{}
	_ LinkStore   = boundedUpkeepLinks{}
	_ UpkeepStore = boundedUpkeepLinks{}
)

func (x boundLinks) CreateLink(ctx context.Context, p CreateLinkParams) (Link, error) {
	return boundCall(x.b, ctx, p, x.l.CreateLink)
}

func (x boundLinks) RevokeLinks(ctx context.Context, p RevokeLinksParams) ([]Link, error) {
	return boundCall(x.b, ctx, p, x.l.RevokeLinks)
}

// JoinLink's bound covers the host's code it runs (OnJoin).
func (x boundLinks) JoinLink(ctx context.Context, p JoinLinkParams) (Link, error) {
	return boundCall(x.b, ctx, p, x.l.JoinLink)
}

func (x boundLinks) GetLink(ctx context.Context, p GetLinkParams) (Link, error) {
	return boundCall(x.b, ctx, p, x.l.GetLink)
}

func (x boundLinks) ListLinks(ctx context.Context, p ListLinksParams) ([]Link, error) {
	return boundCall(x.b, ctx, p, x.l.ListLinks)
}

func (x boundLinks) LinkUses(ctx context.Context, p LinkParams) ([]LinkUse, error) {
	return boundCall(x.b, ctx, p, x.l.LinkUses)
}

func (x boundLinks) LinkHistory(ctx context.Context, p LinkParams) ([]Event, error) {
	return boundCall(x.b, ctx, p, x.l.LinkHistory)
}
