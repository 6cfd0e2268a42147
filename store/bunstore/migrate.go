package bunstore

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
	"github.com/uptrace/bun/migrate"
)

//go:embed migrations
var migrationFiles embed.FS

// Migrations holds the SQL of the schema, for hosts that run their own
// migration tool: postgres/ and sqlite/, each with bun/migrate's file names
// (NAME.tx.up.sql and NAME.tx.down.sql, statements split by --bun:split
// lines; each file runs in one transaction). One step is Go, not SQL:
// such a host calls Renormalize once after applying
// 20261206000008_renormalize, as Migrate does in its transaction.
var Migrations fs.FS = must(fs.Sub(migrationFiles, "migrations"))

func must(f fs.FS, err error) fs.FS {
	if err != nil {
		panic(err)
	}
	return f
}

// The tables bun/migrate keeps its records in: ours, so they never mix
// with the host's own migrations.
const (
	migrationsTable = "invites_migrations"
	locksTable      = "invites_migration_locks"
)

// Migrate brings db's invites tables up to date; a schema already current
// is left as it is. Migration 20261206000008 runs Renormalize in its
// transaction. Several processes may start at once: one migrates,
// the others wait for its lock (until ctx ends).
func Migrate(ctx context.Context, db *bun.DB) error {
	m, err := migrator(db, migrate.AfterMigration(afterMigration))
	if err != nil {
		return err
	}
	return locked(ctx, m, func() error {
		_, err := m.Migrate(ctx)
		return err
	})
}

// Rollback undoes the last Migrate that changed anything. It deletes the
// invites tables and their rows when it undoes the first migration.
func Rollback(ctx context.Context, db *bun.DB) error {
	m, err := migrator(db)
	if err != nil {
		return err
	}
	return locked(ctx, m, func() error {
		_, err := m.Rollback(ctx)
		return err
	})
}

// migrator returns the migrator of db's dialect. Its statements hold no
// backslash (TestMigrationsHoldNoBackslash) and its values are the
// migrations' names, so PostgreSQL reads them the same whatever its
// standard_conforming_strings: Migrate needs no check of the setting.
func migrator(db *bun.DB, opts ...migrate.MigratorOption) (*migrate.Migrator, error) {
	dir := "sqlite"
	switch db.Dialect().Name() {
	case dialect.PG:
		dir = "postgres"
	case dialect.SQLite:
	default:
		return nil, fmt.Errorf("bunstore: unsupported dialect %s (PostgreSQL or SQLite)", db.Dialect().Name())
	}
	sub, err := fs.Sub(Migrations, dir)
	if err != nil {
		return nil, err
	}
	ms := migrate.NewMigrations()
	if err := ms.Discover(sub); err != nil {
		return nil, fmt.Errorf("bunstore: %w", err)
	}
	return migrate.NewMigrator(db, ms, append([]migrate.MigratorOption{
		migrate.WithTableName(migrationsTable),
		migrate.WithLocksTableName(locksTable),
		migrate.WithMarkAppliedOnSuccess(true)}, opts...)...), nil
}

// locked runs fn under bun/migrate's lock, waiting while another process
// holds it: bun/migrate's lock is a row, and taking a held one fails
// rather than waits.
func locked(ctx context.Context, m *migrate.Migrator, fn func() error) error {
	// Two processes creating the tables at once can collide even with IF
	// NOT EXISTS; the loser tries again and finds them made.
	for try := 0; ; try++ {
		err := m.Init(ctx)
		if err == nil {
			break
		}
		if try == 3 || !alreadyExists(err) {
			return fmt.Errorf("bunstore: creating the migration tables: %w", err)
		}
	}
	wait := 10 * time.Millisecond
	for {
		err := m.Lock(ctx)
		if err == nil {
			break
		}
		if !isUniqueViolation(errors.Unwrap(err)) && !isUniqueViolation(err) {
			return fmt.Errorf("bunstore: %w", err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("bunstore: waiting for the migration lock: %w", ctx.Err())
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Second)
	}
	err := fn()
	// Unlock even when ctx has ended, or the next Migrate would wait forever.
	uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if uerr := m.Unlock(uctx); uerr != nil && err == nil {
		err = uerr
	}
	if err != nil {
		return fmt.Errorf("bunstore: migrating: %w", err)
	}
	return nil
}

// alreadyExists is how PostgreSQL reports the collision of two CREATE
// TABLE IF NOT EXISTS: a unique violation in its catalog.
func alreadyExists(err error) bool {
	return isUniqueViolation(err) || strings.Contains(err.Error(), "already exists")
}
