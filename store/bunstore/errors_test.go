package bunstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/invitekit/invites"
	"github.com/jackc/pgx/v5/pgconn"
)

// A database that cannot answer is ErrUnavailable, with the driver's error
// kept in the chain; a request the database refused is not.
func TestUnavailableClassification(t *testing.T) {
	refused := connectErr(t, closedPort(t), "")
	silent := connectErr(t, silentPort(t), "&connect_timeout=1")
	pg := func(code string) error { return &pgconn.PgError{Severity: "FATAL", Code: code, Message: "m"} }
	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"connection failure 08006", pg("08006"), true},
		{"cannot connect 08001", pg("08001"), true},
		{"protocol violation 08P01", pg("08P01"), true},
		{"admin shutdown 57P01", pg("57P01"), true},
		{"crash shutdown 57P02", pg("57P02"), true},
		{"cannot connect now 57P03", pg("57P03"), true},
		{"too many connections 53300", pg("53300"), true},
		{"out of memory 53200", pg("53200"), true},
		{"query canceled 57014", fmt.Errorf("ERROR: %w", pg("57014")), true},
		{"read-only transaction 25006", &pgconn.PgError{Severity: "ERROR", Code: "25006",
			Message: "cannot execute INSERT in a read-only transaction"}, true},
		{"no read-write host (target_session_attrs)", fmt.Errorf("failed to connect to `user=u database=db`: "+
			"127.0.0.1:5432 (127.0.0.1): %w", pgconn.ErrReadOnlyConnection), true},
		{"no standby host (target_session_attrs)", fmt.Errorf("failed to connect to `user=u database=db`: "+
			"127.0.0.1:5432 (127.0.0.1): %w", pgconn.ErrStandbyConnection), true},
		{"connection refused (pgconn.ConnectError)", refused, true},
		{"connect_timeout (pgconn.ConnectError)", silent, true},
		{"reset mid-query", fmt.Errorf("failed to receive message: %w", &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}), true},
		{"EOF", fmt.Errorf("failed to receive message: %w", io.EOF), true},
		{"unexpected EOF", fmt.Errorf("failed to receive message: %w", io.ErrUnexpectedEOF), true},
		{"bad connection", driver.ErrBadConn, true},
		{"conn closed", fmt.Errorf("commit: %w", pgconn.ErrConnClosed), true},
		{"SQLite busy", sqliteErr(5), true},
		{"SQLite busy snapshot", sqliteErr(517), true},
		{"SQLite locked", sqliteErr(6), true},
		{"SQLite busy by message", errors.New("database is locked (5) (SQLITE_BUSY)"), true},
		{"SQLite constraint", sqliteErr(2067), false},
		{"unique violation 23505", pg("23505"), false},
		{"auth failed 28P01", pg("28P01"), false},
		{"undefined table 42P01", pg("42P01"), false},
		{"serialization failure 40001", pg("40001"), false},
		{"caller canceled", fmt.Errorf("timeout: %w", context.Canceled), false},
		{"caller deadline", fmt.Errorf("timeout: %w", context.DeadlineExceeded), false},
		{"no rows", sql.ErrNoRows, false},
		{"other", errors.New("bunstore: cannot read a time from int"), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := wrap(c.err)
			if errors.Is(got, invites.ErrUnavailable) != c.want {
				t.Fatalf("wrap(%v) = %v; ErrUnavailable %v, want %v", c.err, got, !c.want, c.want)
			}
			if !errors.Is(got, c.err) {
				t.Fatalf("wrap(%v) = %v lost the original error", c.err, got)
			}
			if !c.want {
				return
			}
			if again := translate(got); again != got {
				t.Fatalf("translate(wrap(err)) = %v, want it unchanged", again)
			}
			if strings.Count(got.Error(), "bunstore:") != 1 {
				t.Fatalf("wrap(%v) = %q, want the store named once", c.err, got)
			}
		})
	}
}

// closedPort returns an address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	return ln.Addr().String()
}

// silentPort returns an address that accepts connections and never
// answers, as a server behind a lost network.
func silentPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	return ln.Addr().String()
}

// connectErr returns pgx's error connecting to addr with params.
func connectErr(t *testing.T, addr, params string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	conn, err := pgconn.Connect(ctx, "postgres://u@"+addr+"/db?sslmode=disable"+params)
	if err == nil {
		conn.Close(ctx)
		t.Fatalf("connected to %s", addr)
	}
	var ce *pgconn.ConnectError
	if !errors.As(err, &ce) {
		t.Fatalf("connecting to %s = %T %v, want a *pgconn.ConnectError", addr, err, err)
	}
	return err
}

// sqliteErr is an error with the code of a SQLite driver's.
type sqliteErr int

func (e sqliteErr) Error() string { return fmt.Sprintf("sqlite error %d", int(e)) }
func (e sqliteErr) Code() int     { return int(e) }
