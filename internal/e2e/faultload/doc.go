// Package faultload measures what the outbox and the sends do through
// the faults of a database in production: it runs a steady load of
// single sends (and a worker delivering them) through
// internal/faultproxy while the line is blackholed (packets dropped, the
// sockets left open), while the database is read-only (the connections
// drop and come back read-only, as after a failover to a replica), and
// across a restart (the connections drop and new ones are refused for a
// while). During each fault a backlog is queued on a line the fault does
// not reach, as the application's other servers would. It prints, per
// fault, how long after the recovery the backlog was sent, and for the whole run how many sends were acknowledged, how
// many acknowledged invites never got their email (lost), how many got
// it more than once (duplicated), and how many requests took longer than
// their deadline and a second.
//
// It is a benchmark, which neither go test nor CI runs; it needs
// PostgreSQL (internal/testdb) and takes about a minute and a half:
//
//	INVITES_TEST_POSTGRES_DSN=postgres://postgres@127.0.0.1:5432/test?sslmode=disable \
//	    go test -run '^$' -bench Faults -benchtime 1x ./internal/e2e/faultload
//
// Its flags (after -args) set the faults' lengths, the load and the
// deadline: -hole, -readonly, -restart, -rate, -backlog, -deadline.
package faultload
