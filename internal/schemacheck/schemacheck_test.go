package schemacheck_test

import (
	"strings"
	"testing"

	"github.com/uptrace/bun"

	"github.com/invitekit/invites/internal/schemacheck"
	"github.com/invitekit/invites/internal/testdb"
	"github.com/invitekit/invites/store/bunstore"
)

// uses is a true account of a little of the schema, in the shapes the
// benchmarks' raw sides state: an INSERT writing every column, one leaving
// some to their defaults (an identity among them), reads, and a partial
// unique index and a plain one.
func uses() schemacheck.Uses {
	return schemacheck.Uses{
		Inserts: []schemacheck.Insert{
			{Table: "invites_tokens", Columns: []string{"digest", "invite_id", "delivery_id"}},
			{Table: "invites_events", Columns: []string{"invite_id", "tenant_id", "type", "actor_id", "at", "due_at"},
				Defaults: []string{"id", "handled", "attempt"}},
		},
		Reads: map[string][]string{"invites": {"tenant_id", "email_norm", "status"}},
		Indexes: []schemacheck.Index{
			{Name: "invites_pending_email_key", Table: "invites", Columns: []string{"tenant_id", "email_norm"},
				Unique: true, Where: "status = 'pending'"},
			{Name: "invites_events_invite_idx", Table: "invites_events", Columns: []string{"invite_id", "id"}},
		},
	}
}

// TestCheck shows Check catching each kind of drift between raw SQL and
// the migrations, on both databases: the account doctored (as a raw side
// left behind by a migration would read) or the schema changed under it
// (as by a new migration), in a transaction rolled back after each case.
func TestCheck(t *testing.T) {
	cases := []struct {
		name string
		ddl  []string                  // run before the check
		edit func(u *schemacheck.Uses) // doctors the account
		want string                    // the one disagreement
	}{
		{name: "agreement"},
		{name: "written column the table lacks", edit: func(u *schemacheck.Uses) {
			u.Inserts[0].Columns = append(u.Inserts[0].Columns, "issued_at")
		}, want: "INSERT INTO invites_tokens writes issued_at, which the table lacks"},
		{name: "read column the table lacks", edit: func(u *schemacheck.Uses) {
			u.Reads["invites"] = append(u.Reads["invites"], "nickname")
		}, want: "reads invites.nickname, which the table lacks"},
		{name: "read table missing", edit: func(u *schemacheck.Uses) {
			u.Reads["invites_audit"] = []string{"id"}
		}, want: "reads table invites_audit, which does not exist"},
		{name: "insert table missing", edit: func(u *schemacheck.Uses) {
			u.Inserts[0].Table = "invites_audit"
		}, want: "INSERT INTO invites_audit: no such table"},
		{name: "NOT NULL column without default left out", edit: func(u *schemacheck.Uses) {
			u.Inserts[0].Columns = []string{"digest", "invite_id"}
		}, want: "INSERT INTO invites_tokens leaves out delivery_id, which is NOT NULL with no default"},
		{name: "NOT NULL column without default left to its default", edit: func(u *schemacheck.Uses) {
			u.Inserts[0].Columns, u.Inserts[0].Defaults = []string{"digest", "invite_id"}, []string{"delivery_id"}
		}, want: "INSERT INTO invites_tokens leaves out delivery_id, which is NOT NULL with no default"},
		{name: "column neither written nor left to its default", edit: func(u *schemacheck.Uses) {
			u.Inserts[1].Defaults = []string{"id", "attempt"}
		}, want: "INSERT INTO invites_events neither writes handled nor says it leaves it to its default"},
		{name: "new column neither written nor left to its default",
			ddl:  []string{"ALTER TABLE invites_tokens ADD COLUMN issued_at text"},
			want: "INSERT INTO invites_tokens neither writes issued_at nor says it leaves it to its default"},
		{name: "default of a column the table lacks", edit: func(u *schemacheck.Uses) {
			u.Inserts[1].Defaults = append(u.Inserts[1].Defaults, "retries")
		}, want: "INSERT INTO invites_events leaves retries to its default, but the table lacks it"},
		{name: "column named twice", edit: func(u *schemacheck.Uses) {
			u.Inserts[1].Defaults = append(u.Inserts[1].Defaults, "at")
		}, want: "INSERT INTO invites_events names at twice"},
		{name: "index missing", edit: func(u *schemacheck.Uses) {
			u.Indexes[1].Name = "invites_events_invite_at_idx"
		}, want: "index invites_events_invite_at_idx ON invites_events (invite_id, id) is missing"},
		{name: "index dropped", ddl: []string{"DROP INDEX invites_events_invite_idx"},
			want: "index invites_events_invite_idx ON invites_events (invite_id, id) is missing"},
		{name: "index on other columns",
			ddl: []string{"DROP INDEX invites_events_invite_idx",
				"CREATE INDEX invites_events_invite_idx ON invites_events (invite_id)"},
			want: "index invites_events_invite_idx ON invites_events (invite_id), want invites_events_invite_idx ON invites_events (invite_id, id)"},
		{name: "index other than unique", edit: func(u *schemacheck.Uses) {
			u.Indexes[1].Unique = true
		}, want: "index invites_events_invite_idx ON invites_events (invite_id, id), want UNIQUE invites_events_invite_idx"},
		{name: "index with another predicate", edit: func(u *schemacheck.Uses) {
			u.Indexes[0].Where = "status = 'expired'"
		}, want: "index UNIQUE invites_pending_email_key ON invites (tenant_id, email_norm) WHERE status = 'pending', " +
			"want UNIQUE invites_pending_email_key ON invites (tenant_id, email_norm) WHERE status = 'expired'"},
	}
	for _, d := range []struct {
		name string
		open func(testing.TB) *bun.DB
	}{{"SQLite", testdb.SQLite}, {"Postgres", testdb.Postgres}} {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			db := d.open(t)
			if err := bunstore.Migrate(t.Context(), db); err != nil {
				t.Fatal(err)
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					u := uses()
					if c.edit != nil {
						c.edit(&u)
					}
					tx, err := db.BeginTx(t.Context(), nil)
					if err != nil {
						t.Fatal(err)
					}
					defer tx.Rollback()
					for _, q := range c.ddl {
						if _, err := tx.ExecContext(t.Context(), q); err != nil {
							t.Fatalf("%s: %v", q, err)
						}
					}
					// u twice, as raw sides share statements' needs: each
					// disagreement is still told once.
					got, err := schemacheck.Check(t.Context(), tx, u, u)
					if err != nil {
						t.Fatal(err)
					}
					if c.want == "" && len(got) != 0 || c.want != "" &&
						(len(got) != 1 || !strings.Contains(got[0], c.want)) {
						t.Errorf("Check = %q, want only %q", got, c.want)
					}
				})
			}
		})
	}
}

// TestInto is the INSERT target a raw side builds its SQL from.
func TestInto(t *testing.T) {
	in := schemacheck.Insert{Table: "invites_tokens", Columns: []string{"digest", "invite_id"}, Defaults: []string{"x"}}
	if got, want := in.Into(), "invites_tokens (digest, invite_id)"; got != want {
		t.Errorf("Into() = %q, want %q", got, want)
	}
}

func TestMain(m *testing.M) { testdb.Main(m, testdb.PostgresSkipped()) }
