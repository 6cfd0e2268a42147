package main

// The mutants of memstore's links (store/memstore/links.go), each
// breaking one promise of invites.LinkStore (store_links.go).
var linkMutants = []mutant{
	{"link-join-unlocked", "JoinLink holds no lock of the link while Decide runs: racing joins pass MaxUses", "links.go",
		"\ts.busy[id] = struct{}{}\n\tdefer s.release(id)", "\tdefer s.release(id)"},
	{"link-join-not-joined", "LinkFacts.Joined never tells that the user used the link before", "links.go",
		"f.Joined = f.Joined || u.UserID == p.UserID", "f.Joined = false"},
	{"link-join-window-inclusive", "LinkFacts.RecentUses counts a use made exactly a minute before Now", "links.go",
		"if u.At.After(since) {", "if !u.At.Before(since) {"},
	{"link-join-decide-ignored", "an error from Decide is not returned: the join goes on", "links.go",
		"if err := s.unlocked(func() error { return p.Decide(ctx, f) }); err != nil {", "if err := s.unlocked(func() error { return p.Decide(ctx, f) }); err != nil && false {"},
	{"link-join-hook-ignored", "an error from Hook neither undoes the use nor is returned", "links.go",
		"if err := s.unlocked(func() error { return p.Hook(ctx, cloneLink(out)) }); err != nil {", "if err := s.unlocked(func() error { return p.Hook(ctx, cloneLink(out)) }); err != nil && false {"},
	{"link-join-no-event", "a join writes no EventLinkUsed", "links.go",
		"\ts.emitLink(r, invites.EventLinkUsed, p.UserID, p.Now)\n", ""},
	{"link-join-no-use-row", "a join counts the use but records no LinkUse", "links.go",
		"\tr.uses = append(r.uses, invites.LinkUse{LinkID: id, UserID: p.UserID, At: p.Now})\n", ""},
	{"link-cap-off-by-one", "CreateLink lets MaxActive+1 links be active", "links.go",
		"if n >= p.MaxActive {", "if n > p.MaxActive {"},
	{"link-cap-counts-ended", "CreateLink counts expired and exhausted links as active", "links.go",
		"if r := s.lk.byID[id]; r != old && activeAt(r.l, p.Now) {", "if r := s.lk.byID[id]; r != old && r.l.RevokedAt.IsZero() {"},
	{"link-cap-counts-replaced", "CreateLink counts the link it replaces against MaxActive", "links.go",
		"if r := s.lk.byID[id]; r != old && activeAt(r.l, p.Now) {", "if r := s.lk.byID[id]; activeAt(r.l, p.Now) {"},
	{"link-rotate-keeps-old", "CreateLink with Replace leaves the replaced link usable", "links.go",
		"\tif old != nil {\n\t\ts.revoke(old, l.CreatedByUserID, p.Now)\n\t}\n", ""},
	{"link-revoke-twice", "RevokeLinks revokes a revoked link again, with a second event", "links.go",
		"\t\tif !r.l.RevokedAt.IsZero() {\n\t\t\treturn nil, &invites.LinkRuleError{Link: cloneLink(r.l)}\n\t\t}\n\t\trs = append(rs, r)", "\t\trs = append(rs, r)"},
	{"link-revokeby-any-creator", "RevokeLinks by CreatedBy revokes the links of every creator", "links.go",
		"r.l.CreatedByUserID == p.CreatedBy && activeAt(r.l, p.Now)", "activeAt(r.l, p.Now)"},
	{"link-revokeby-ended", "RevokeLinks by CreatedBy revokes expired and exhausted links too", "links.go",
		"r.l.CreatedByUserID == p.CreatedBy && activeAt(r.l, p.Now)", "r.l.CreatedByUserID == p.CreatedBy && r.l.RevokedAt.IsZero()"},
	{"link-find-ignores-tenant", "GetLink, RevokeLinks, LinkUses and LinkHistory find a link of another tenant", "links.go",
		"if !ok || r.l.TenantID != tenant {", "if !ok {"},
	{"link-list-ignores-after", "ListLinks ignores the position After", "links.go",
		"p.After != nil && linkOrder(l, p.After.CreatedAt, p.After.ID) >= 0", "p.After != nil && p.Limit < 0"},
	{"link-list-status-ignored", "ListLinks ignores Statuses", "links.go",
		"len(p.Statuses) > 0 && !slices.Contains(p.Statuses, l.StatusAt(p.Now))", "len(p.Statuses) < 0"},
}

func init() { mutants = append(mutants, linkMutants...) }
