// Command demo runs invites end to end on one machine: the JSON API under
// /api/invites/, a page to send invites and watch their status, and the
// landing page of the emailed link. Emails are printed to stdout (or sent
// by SMTP with -smtp), invites are kept in SQLite (or PostgreSQL with
// -postgres).
//
// Its authentication is a stand-in for the demo only (see auth.go): never
// run it where anyone but you can reach it.
//
// It serves only requests whose Host names it (DNS rebinding), refuses
// cross-origin writes, and its landing page (httpadapter.NewLanding)
// checks its forms: see guard.go.
//
//	go run ./internal/demo [-addr 127.0.0.1:8080] [-host name:port,...] [-db invites-demo.db] [-postgres DSN] [-smtp host:port] [-ttl 2m] [-cooldown 5s] [-retention 720h]
//
// The links page (/demo/links) makes shareable invite links and manages
// them; a link's URL opens the join page (/join), which checks it and
// joins the demo user through it.
//
// The send page shows, beside its list, the tenant's invites by status and
// their emails waiting or failed (read from GET /demo/status with the
// list), an invite's events when its row is clicked, and where the emails
// go, with a link to the last one printed (GET /demo/email). -retention sets Config.Retention: how
// long an invite is kept once accepted, declined, canceled or expired
// before the worker deletes it (at least 24h; default 0, kept for ever).
// GET /readyz is the readiness check (httpadapter.Ready).
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"

	"github.com/invitekit/invites"
	"github.com/invitekit/invites/httpadapter"
	"github.com/invitekit/invites/mailer"
	"github.com/invitekit/invites/store/bunstore"
	"github.com/invitekit/invites/store/bunstore/sqlitedb"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

// options are the command line's flags.
type options struct {
	addr     string
	db       string
	postgres string
	smtp     string
	from     string
	hosts    []string
	ttl      time.Duration // 0: the library's default
	cooldown time.Duration // 0: the library's default
	// retention is Config.Retention; 0 keeps ended invites for ever.
	retention time.Duration
}

// shutdownTimeout bounds how long requests in flight may finish after a
// signal.
const shutdownTimeout = 5 * time.Second

// parseFlags returns the options of args, each checked as far as it can
// be without binding the port or opening anything, so that a mistake is
// told first, whatever else is wrong.
func parseFlags(args []string, out io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8080", "address to listen on (port 0 picks a free one)")
	fs.StringVar(&o.db, "db", "invites-demo.db", "SQLite file to keep invites in, created and migrated at start")
	fs.StringVar(&o.postgres, "postgres", "", "PostgreSQL DSN (postgres://...) to use instead of SQLite")
	fs.StringVar(&o.smtp, "smtp", "", "send email by SMTP to host:port, in plain text without TLS (demo only: a local relay or test server), instead of printing it")
	fs.StringVar(&o.from, "from", "Invites demo <invites@localhost>", "sender of the emails")
	fs.DurationVar(&o.ttl, "ttl", 0, "how long a link is valid, such as 2m to watch one expire (default 7 days)")
	fs.DurationVar(&o.cooldown, "cooldown", 0, "the least time between two sends of an invite, such as 5s (default 1 minute)")
	fs.DurationVar(&o.retention, "retention", 0, "how long an invite is kept once accepted, declined, canceled or expired, at least 24h, such as 720h (default 0: kept for ever)")
	hostList := fs.String("host", "", "more Host values to serve (comma-separated host:port) beyond -addr and localhost, 127.0.0.1 and [::1] on its port; any other is refused")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	hs, err := parseHosts(*hostList)
	if err != nil {
		return o, err
	}
	o.hosts = hs
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.retention != 0 && o.retention < invites.MinRetention {
		return o, fmt.Errorf("-retention %s: want 0 (off) or at least %s", o.retention, invites.MinRetention)
	}
	if o.smtp != "" {
		if _, _, err := net.SplitHostPort(o.smtp); err != nil {
			return o, fmt.Errorf("-smtp %q is not host:port: %w", o.smtp, err)
		}
	}
	if o.postgres != "" {
		if u, err := url.Parse(o.postgres); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			return o, fmt.Errorf("-postgres wants a postgres:// URL")
		}
	}
	_, port, err := net.SplitHostPort(o.addr)
	if err == nil {
		_, err = net.LookupPort("tcp", port)
	}
	if err != nil {
		return o, fmt.Errorf("-addr %s: %w", o.addr, err)
	}
	return o, nil
}

// run serves the demo until ctx ends, then shuts the server and the
// delivery worker down. It prints "listening on http://ADDR" once it
// accepts connections; the emails of the console mailer go to stdout too.
// With -h it prints the usage and returns nil.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	o, err := parseFlags(args, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stdout, nil))

	// The address first: a port in use is told before any file is made.
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return fmt.Errorf("-addr %s: %w", o.addr, err)
	}
	defer ln.Close() // Serve closes it too; this is for an early return

	db, err := openDB(ctx, o)
	if err != nil {
		return err
	}
	defer db.Close()
	reader, err := openReader(o, db)
	if err != nil {
		return err
	}
	if reader != db {
		defer reader.Close()
	}

	mail := &emails{smtp: o.smtp}
	m, closeMailer, err := newMailer(o, io.MultiWriter(stdout, mail))
	if err != nil {
		return err
	}
	defer closeMailer()

	tel, err := newTelemetry()
	if err != nil {
		return err
	}
	defer tel.mp.Shutdown(context.Background())

	base := "http://" + ln.Addr().String()
	svc, err := invites.New(bunstore.New(db, bunstore.WithReader(reader)), m, invites.Config{
		AcceptURL:      httpadapter.LandingURL(base + landingPath),
		JoinURL:        joinURL(base),
		LinkView:       linkView,
		OnJoin:         onJoin(log),
		TTL:            o.ttl,
		ResendCooldown: o.cooldown,
		Retention:      o.retention,
		CanGrant:       canGrant,
		PollInterval:   time.Second,
		Logger:         log,
		Observer:       tel.obs,
	})
	if err != nil {
		return err
	}
	allowed, err := allowedHosts(ln.Addr().String(), o.hosts)
	if err != nil {
		return err
	}
	h, err := newServer(svc, log, allowed, tel.metrics, mail)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}

	workerCtx, stopWorker := context.WithCancel(ctx)
	worker := make(chan struct{})
	go func() {
		defer close(worker)
		svc.Run(workerCtx)
	}()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Fprintf(stdout, "listening on %s\n", base)

	select {
	case err = <-served: // the listener failed: nothing to shut down
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		err = srv.Shutdown(sctx)
		cancel()
	}
	stopWorker()
	<-worker
	return err
}

// pgConns is the demo's PostgreSQL pool: 16 requests at once and the
// worker's 2.
const pgConns = 16 + 2

// pgConnLifetime is how long the demo's pool keeps one PostgreSQL session.
const pgConnLifetime = 5 * time.Minute

// openDB opens and migrates PostgreSQL when -postgres is set, else the
// SQLite file of -db.
func openDB(ctx context.Context, o options) (*bun.DB, error) {
	var db *bun.DB
	if o.postgres != "" {
		u, err := url.Parse(o.postgres) // parseFlags checked it
		if err != nil {
			return nil, err
		}
		// bun sends queries with their values inlined: pgx need not
		// prepare each one. The parameter goes last, where pgx (as libpq)
		// takes it over an earlier one, and the rest of the query stays
		// as written: re-encoding it would turn a %20 into a +, which pgx
		// reads as a plus (options=-c%20x%3Dy would break). For failover
		// (see docs/production.md): a connection attempt to a host that does
		// not answer gives up within 2 s (which bounds how long the pool
		// waits on one the network swallowed), and only a writable host is taken,
		// so with a list of hosts (postgres://a,b/db) the pool finds the
		// primary after a switchover; a DSN that says otherwise keeps its
		// own.
		add := func(k, v string) {
			if u.RawQuery != "" {
				u.RawQuery += "&"
			}
			u.RawQuery += k + "=" + v
		}
		q := u.Query()
		for _, kv := range [][2]string{{"connect_timeout", "2"}, {"target_session_attrs", "read-write"}} {
			if !q.Has(kv[0]) {
				add(kv[0], kv[1])
			}
		}
		add("default_query_exec_mode", "simple_protocol")
		sqldb, err := sql.Open("pgx", u.String())
		if err != nil {
			return nil, err
		}
		// The requests served at once, and two for the worker; as many kept
		// idle, or database/sql closes all but two after each burst and
		// opens them again on the next.
		sqldb.SetMaxOpenConns(pgConns)
		sqldb.SetMaxIdleConns(pgConns)
		// No session outlives a failover by more than this, even one
		// that never met the demoted node's read-only answer.
		sqldb.SetConnMaxLifetime(pgConnLifetime)
		db = bun.NewDB(sqldb, pgdialect.New())
	} else {
		// SQLite says "out of memory (14)" of a file it cannot create:
		// open it first for the system's own words.
		f, err := os.OpenFile(o.db, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return nil, fmt.Errorf("-db %s: cannot create or open the SQLite file: %w", o.db, err)
		}
		f.Close()
		if db, err = sqlitedb.Open(o.db); err != nil {
			return nil, err
		}
	}
	if err := bunstore.Migrate(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrating: %w", err)
	}
	return db, nil
}

// openReader returns the pool of the store's pure reads: on SQLite a read pool
// beside the single writer, so a long list does not hold up every other
// read; on PostgreSQL db itself.
func openReader(o options, db *bun.DB) (*bun.DB, error) {
	if o.postgres != "" {
		return db, nil
	}
	return sqlitedb.OpenReader(o.db)
}

// newMailer returns the console writer printing to out, or SMTP without
// TLS with -smtp.
func newMailer(o options, out io.Writer) (invites.Mailer, func(), error) {
	if o.smtp == "" {
		w, err := mailer.NewWriter(out, mailer.WriterConfig{From: o.from})
		return w, func() {}, err
	}
	s, err := mailer.NewSMTP(mailer.SMTPConfig{Addr: o.smtp, From: o.from, TLS: mailer.TLSNone})
	if err != nil {
		return nil, nil, err
	}
	return s, func() { s.Close() }, nil
}
