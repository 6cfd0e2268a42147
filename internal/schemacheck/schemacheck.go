// Package schemacheck compares what hand-written SQL relies on with the
// schema of bunstore.Migrate. The benchmarks' raw sides share no code with
// the store they are measured against, so nothing but such a check tells
// them a migration changed the tables under them: a raw INSERT that stops
// writing every column, or a query whose index went away, would do less
// or other work than the store and quietly skew the ratio.
package schemacheck

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"

	"github.com/invitekit/invites/store/bunstore"
)

// Uses is what raw SQL relies on, stated as data next to it.
type Uses struct {
	// Inserts are its INSERT statements, one for each distinct column list.
	Inserts []Insert
	// Reads are the columns its other statements read, set or filter on,
	// by table.
	Reads map[string][]string
	// Indexes are the indexes its plans or its ON CONFLICT need.
	Indexes []Index
}

// Insert is one INSERT: its table, the columns it writes and the columns
// it leaves to their defaults. Together they must be every column of the
// table, so a column a migration adds is noticed.
type Insert struct {
	Table    string
	Columns  []string
	Defaults []string
}

// Into is the INSERT's target as its SQL names it, "table (col, ...)", so
// the statement writes exactly the columns the check compares.
func (i Insert) Into() string {
	return i.Table + " (" + strings.Join(i.Columns, ", ") + ")"
}

// Index is an index by name, with its key columns in order (PostgreSQL's
// INCLUDE columns are not keys), whether it is unique, and its partial
// predicate ("" for none), as written in the migration without casts or
// outer parentheses: "status = 'pending'".
type Index struct {
	Name    string
	Table   string
	Columns []string
	Unique  bool
	Where   string
}

func (i Index) String() string {
	s := fmt.Sprintf("%s ON %s (%s)", i.Name, i.Table, strings.Join(i.Columns, ", "))
	if i.Unique {
		s = "UNIQUE " + s
	}
	if i.Where != "" {
		s += " WHERE " + i.Where
	}
	return s
}

// Check returns how uses disagree with the schema db sees (PostgreSQL's
// current schema, or SQLite's main), one sentence per disagreement, each
// once however many of uses share it; none when they agree.
func Check(ctx context.Context, db bun.IDB, uses ...Uses) ([]string, error) {
	s, err := load(ctx, db)
	if err != nil {
		return nil, fmt.Errorf("schemacheck: %w", err)
	}
	var out []string
	seen := map[string]bool{}
	add := func(format string, args ...any) {
		if p := fmt.Sprintf(format, args...); !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	for _, u := range uses {
		s.check(u, add)
	}
	return out, nil
}

// Migrated migrates db, a fresh database of the test's own, with
// bunstore.Migrate and fails t with each disagreement of uses with it.
func Migrated(t testing.TB, db *bun.DB, uses ...Uses) {
	t.Helper()
	if err := bunstore.Migrate(t.Context(), db); err != nil {
		t.Fatal(err)
	}
	problems, err := Check(t.Context(), db, uses...)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
}

// check tells add each disagreement of u with s.
func (s schema) check(u Uses, add func(format string, args ...any)) {
	for _, in := range u.Inserts {
		cols, ok := s.tables[in.Table]
		if !ok {
			add("INSERT INTO %s: no such table", in.Table)
			continue
		}
		named := map[string]bool{}
		for _, c := range slices.Concat(in.Columns, in.Defaults) {
			if named[c] {
				add("INSERT INTO %s names %s twice", in.Table, c)
			}
			named[c] = true
		}
		for _, c := range in.Columns {
			if _, ok := cols[c]; !ok {
				add("INSERT INTO %s writes %s, which the table lacks", in.Table, c)
			}
		}
		for _, c := range in.Defaults {
			if _, ok := cols[c]; !ok {
				add("INSERT INTO %s leaves %s to its default, but the table lacks it", in.Table, c)
			}
		}
		for _, c := range slices.Sorted(maps.Keys(cols)) {
			switch col := cols[c]; {
			case !slices.Contains(in.Columns, c) && col.required():
				add("INSERT INTO %s leaves out %s, which is NOT NULL with no default", in.Table, c)
			case !named[c]:
				add("INSERT INTO %s neither writes %s nor says it leaves it to its default", in.Table, c)
			}
		}
	}
	for _, t := range slices.Sorted(maps.Keys(u.Reads)) {
		cols, ok := s.tables[t]
		if !ok {
			add("reads table %s, which does not exist", t)
			continue
		}
		for _, c := range u.Reads[t] {
			if _, ok := cols[c]; !ok {
				add("reads %s.%s, which the table lacks", t, c)
			}
		}
	}
	for _, want := range u.Indexes {
		got, ok := s.indexes[want.Name]
		switch {
		case !ok:
			add("index %s is missing", want)
		case got.String() != want.String():
			add("index %s, want %s", got, want)
		}
	}
}

// column is what Check needs of a column: whether an INSERT must write it.
type column struct{ notNull, defaulted bool }

func (c column) required() bool { return c.notNull && !c.defaulted }

// schema is the tables' columns by table and the indexes by name.
type schema struct {
	tables  map[string]map[string]column
	indexes map[string]Index
}

// load reads the schema through the dialect's queries: columns gives rows
// of (table, column, NOT NULL, has a default), indexes rows of (name,
// table, unique, predicate or definition, key columns joined by commas),
// and where finds the predicate in the fourth.
func load(ctx context.Context, db bun.IDB) (schema, error) {
	s := schema{tables: map[string]map[string]column{}, indexes: map[string]Index{}}
	var columns, indexes string
	var where func(string) string
	switch db.Dialect().Name() {
	case dialect.PG:
		columns, indexes, where = pgColumns, pgIndexes, predicate
	case dialect.SQLite:
		columns, indexes, where = sqliteColumns, sqliteIndexes, sqliteWhere
	default:
		return s, fmt.Errorf("unsupported dialect %s", db.Dialect().Name())
	}
	if err := each(ctx, db, columns, func(r *sql.Rows) error {
		var table, name string
		var c column
		if err := r.Scan(&table, &name, &c.notNull, &c.defaulted); err != nil {
			return err
		}
		if s.tables[table] == nil {
			s.tables[table] = map[string]column{}
		}
		s.tables[table][name] = c
		return nil
	}); err != nil {
		return s, err
	}
	return s, each(ctx, db, indexes, func(r *sql.Rows) error {
		var ix Index
		var pred, cols string
		if err := r.Scan(&ix.Name, &ix.Table, &ix.Unique, &pred, &cols); err != nil {
			return err
		}
		ix.Columns, ix.Where = strings.Split(cols, ","), where(pred)
		s.indexes[ix.Name] = ix
		return nil
	})
}

// each runs query and scan on each of its rows.
func each(ctx context.Context, db bun.IDB, query string, scan func(*sql.Rows) error) error {
	rows, err := db.QueryContext(ctx, query)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// PostgreSQL's current schema: an identity column has a default; an
// index's keys leave out its INCLUDE columns.
const (
	pgColumns = `SELECT table_name, column_name, is_nullable = 'NO',
		column_default IS NOT NULL OR is_identity = 'YES'
		FROM information_schema.columns WHERE table_schema = current_schema()`
	pgIndexes = `SELECT c.relname, t.relname, i.indisunique,
		coalesce(pg_get_expr(i.indpred, i.indrelid), ''),
		array_to_string(ARRAY(SELECT pg_get_indexdef(i.indexrelid, k, true)
			FROM generate_series(1, i.indnkeyatts) AS k ORDER BY k), ',')
		FROM pg_index AS i JOIN pg_class AS c ON c.oid = i.indexrelid JOIN pg_class AS t ON t.oid = i.indrelid
		WHERE t.relnamespace = current_schema()::regnamespace`
)

// SQLite's main (an INTEGER PRIMARY KEY, the rowid, is not NOT NULL
// unless declared so); an index's predicate is in its CREATE INDEX.
const (
	sqliteColumns = `SELECT t.name, c.name, c."notnull", c.dflt_value IS NOT NULL
		FROM pragma_table_list AS t, pragma_table_info(t.name) AS c
		WHERE t.schema = 'main' AND t.type = 'table' AND t.name NOT LIKE 'sqlite_%'`
	sqliteIndexes = `SELECT l.name, t.name, l."unique",
		coalesce((SELECT sql FROM sqlite_master WHERE type = 'index' AND name = l.name), ''),
		(SELECT group_concat(name, ',' ORDER BY seqno) FROM pragma_index_info(l.name))
		FROM sqlite_master AS t, pragma_index_list(t.name) AS l
		WHERE t.type = 'table'`
)

// sqliteWhere is the predicate of a CREATE INDEX, "" for none.
func sqliteWhere(def string) string {
	loc := whereKeyword.FindStringIndex(def)
	if loc == nil {
		return ""
	}
	return predicate(def[loc[1]:])
}

// whereKeyword finds the WHERE of a CREATE INDEX, in any case.
var whereKeyword = regexp.MustCompile(`(?i)\sWHERE\s`)

// predicate is an index's predicate as written in a migration: without
// PostgreSQL's casts to text, the parentheses around the whole or runs of
// spaces.
func predicate(p string) string {
	p = strings.Join(strings.Fields(strings.ReplaceAll(p, "::text", "")), " ")
	for enclosed(p) {
		p = strings.TrimSpace(p[1 : len(p)-1])
	}
	return p
}

// enclosed reports whether p's first parenthesis closes at its end, as in
// "(a = 1)" but not "(a = 1) OR (b = 2)".
func enclosed(p string) bool {
	if !strings.HasPrefix(p, "(") {
		return false
	}
	depth := 0
	for i, c := range p {
		switch c {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return i == len(p)-1
			}
		}
	}
	return false
}
