// Package store is the portal's database, through ent: SQLite (pure Go) by default, PostgreSQL
// by DSN. It keeps what catalog sources emitted (so a restart serves the last known catalog at
// once, even while sources are unreachable), the CI deliveries and what they say (runs, jobs,
// pushes, deployments — handed out as this package's own types, never ent rows), and the
// sign-in states used once. The audit log lives in its own package on the same database.
package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	_ "github.com/jackc/pgx/v5/stdlib" // PostgreSQL driver "pgx"
	_ "modernc.org/sqlite"             // SQLite driver "sqlite", no cgo

	"github.com/portico-dev/portico/ent"
	"github.com/portico-dev/portico/ent/entity"
	"github.com/portico-dev/portico/ent/problem"
	"github.com/portico-dev/portico/ent/sourcestate"
	"github.com/portico-dev/portico/ent/usedloginstate"
	"github.com/portico-dev/portico/internal/catalog"
)

// Store is the catalog's database.
type Store struct {
	Client *ent.Client
	db     *sql.DB
	driver string
}

// Open connects to the database and migrates its schema. driver is "sqlite" (dsn: a file path,
// whose folder is created) or "postgres" (dsn: a PostgreSQL URL or key=value string).
func Open(ctx context.Context, driver, dsn string) (*Store, error) {
	var (
		db      *sql.DB
		err     error
		entDial string
	)
	switch driver {
	case "sqlite", "":
		driver, entDial = "sqlite", dialect.SQLite
		if dir := filepath.Dir(dsn); dsn != ":memory:" && dir != "" {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return nil, fmt.Errorf("create database folder: %w", err)
			}
		}
		db, err = sql.Open("sqlite", sqliteDSN(dsn))
		if err == nil {
			db.SetMaxOpenConns(4) // SQLite has one writer; a few readers are enough
		}
	case "postgres":
		entDial = dialect.Postgres
		db, err = sql.Open("pgx", dsn)
		if err == nil {
			db.SetMaxOpenConns(10)
		}
	default:
		return nil, fmt.Errorf("unknown database driver %q (want sqlite or postgres)", driver)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s database: %w", driver, err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(pingCtx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to %s database: %w", driver, err)
	}
	client := ent.NewClient(ent.Driver(resilient{entsql.OpenDB(entDial, db)}))
	st := &Store{Client: client, db: db, driver: driver}
	if err := st.migrate(ctx); err != nil {
		client.Close()
		return nil, err
	}
	return st, nil
}

// migrationLock is the PostgreSQL advisory lock replicas take around their schema migration,
// so two starting at once do not both create the same table or trigger.
const migrationLock = 0x706f727469636f // "portico"

// migrate brings the schema up to date and protects the audit log, one replica at a time.
func (s *Store) migrate(ctx context.Context) error {
	if s.driver == "postgres" {
		conn, err := s.db.Conn(ctx) // the lock is the session's: hold one connection for it
		if err != nil {
			return fmt.Errorf("migrate postgres database: %w", err)
		}
		defer conn.Close()
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", migrationLock); err != nil {
			return fmt.Errorf("migrate postgres database: take the migration lock: %w", err)
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", migrationLock) //nolint:errcheck // closing the session drops it too
	}
	if err := s.Client.Schema.Create(ctx); err != nil {
		return fmt.Errorf("migrate %s database: %w", s.driver, err)
	}
	return s.protectAudit(ctx)
}

// Notify sends payload to every session listening on channel (PostgreSQL's NOTIFY); on
// SQLite, which has one process, it does nothing.
func (s *Store) Notify(ctx context.Context, channel, payload string) error {
	if s.driver != "postgres" {
		return nil
	}
	_, err := s.db.ExecContext(ctx, "SELECT pg_notify($1, $2)", channel, payload)
	return err
}

// protectAudit makes the audit log append-only in the database itself, not only in the
// code: entries cannot be deleted, and an entry can be completed once (pending → a final
// result) but its who/what/where never changes.
func (s *Store) protectAudit(ctx context.Context) error {
	immutable := []string{"request_id", "actor", "action", "params", "cluster", "namespace", "kind", "name", "before", "started_at", "entity", "reason", "source_ip", "channel"}
	var changed []string
	for _, c := range immutable {
		changed = append(changed, fmt.Sprintf("NEW.%s IS DISTINCT FROM OLD.%s", c, c))
	}
	var stmts []string
	switch s.driver {
	case "sqlite":
		cond := strings.ReplaceAll(strings.Join(changed, " OR "), "IS DISTINCT FROM", "IS NOT")
		stmts = []string{
			`CREATE TRIGGER IF NOT EXISTS audit_entries_no_delete BEFORE DELETE ON audit_entries BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END`,
			`DROP TRIGGER IF EXISTS audit_entries_complete_once`,
			`CREATE TRIGGER audit_entries_complete_once BEFORE UPDATE ON audit_entries WHEN OLD.result <> 'pending' OR ` + cond +
				` BEGIN SELECT RAISE(ABORT, 'audit entries are completed once and never edited'); END`,
		}
	case "postgres":
		stmts = []string{
			`CREATE OR REPLACE FUNCTION portico_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('DELETE', 'TRUNCATE') THEN RAISE EXCEPTION 'the audit log is append-only'; END IF;
  IF OLD.result <> 'pending' OR ` + strings.Join(changed, " OR ") + ` THEN
    RAISE EXCEPTION 'audit entries are completed once and never edited';
  END IF;
  RETURN NEW;
END $$`,
			`DROP TRIGGER IF EXISTS audit_entries_append_only ON audit_entries`,
			`CREATE TRIGGER audit_entries_append_only BEFORE UPDATE OR DELETE ON audit_entries FOR EACH ROW EXECUTE FUNCTION portico_audit_append_only()`,
			`DROP TRIGGER IF EXISTS audit_entries_no_truncate ON audit_entries`,
			`CREATE TRIGGER audit_entries_no_truncate BEFORE TRUNCATE ON audit_entries FOR EACH STATEMENT EXECUTE FUNCTION portico_audit_append_only()`,
		}
	}
	for _, q := range stmts {
		if _, err := s.db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("protect the audit log (%s): %w", s.driver, err)
		}
	}
	return nil
}

func sqliteDSN(path string) string {
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	return "file:" + path + sep + "_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)"
}

// Driver names the database in use: "sqlite" or "postgres".
func (s *Store) Driver() string { return s.driver }

// Close closes the database.
func (s *Store) Close() error { return s.Client.Close() }

// Ping checks the database answers, for readiness probes.
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// SourceStatus is the outcome of a source's last refresh.
type SourceStatus struct {
	Name        string
	Revision    string
	RefreshedAt time.Time
	Error       string
	Entities    int
	Duration    time.Duration
}

// Catalog is everything stored about the catalog sources.
type Catalog struct {
	Records   []catalog.Record
	Problems  []catalog.Problem
	Sources   []SourceStatus
	Documents map[string]map[string][]byte // source → path → Markdown
}

// Load reads every stored entity, problem, source status and document.
func (s *Store) Load(ctx context.Context) (*Catalog, error) {
	rows, err := s.Client.Entity.Query().Order(ent.Asc(entity.FieldKey)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("load entities: %w", err)
	}
	records := make([]catalog.Record, 0, len(rows))
	for _, row := range rows {
		var e catalog.Entity
		if err := json.Unmarshal([]byte(row.Body), &e); err != nil {
			return nil, fmt.Errorf("entity %s: stored body is not valid JSON: %w", row.Key, err)
		}
		rec := catalog.Record{Entity: &e, Source: row.Source, File: row.File, Line: row.Line, Hash: row.Hash, UpdatedAt: row.UpdatedAt}
		if row.OrphanedAt != nil {
			rec.OrphanedAt = *row.OrphanedAt
		}
		records = append(records, rec)
	}
	prows, err := s.Client.Problem.Query().Order(ent.Asc(problem.FieldID)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("load problems: %w", err)
	}
	problems := make([]catalog.Problem, len(prows))
	for i, p := range prows {
		problems[i] = catalog.Problem{Source: p.Source, File: p.File, Line: p.Line, Column: p.Column,
			Severity: catalog.Severity(p.Severity), Message: p.Message, Entity: p.Entity}
	}
	srows, err := s.Client.SourceState.Query().Order(ent.Asc(sourcestate.FieldName)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("load source states: %w", err)
	}
	states := make([]SourceStatus, len(srows))
	for i, r := range srows {
		states[i] = SourceStatus{Name: r.Name, Revision: r.Revision, RefreshedAt: r.RefreshedAt, Error: r.Error,
			Entities: r.Entities, Duration: time.Duration(r.DurationMs) * time.Millisecond}
	}
	drows, err := s.Client.Document.Query().All(ctx)
	if err != nil {
		return nil, fmt.Errorf("load documents: %w", err)
	}
	docs := map[string]map[string][]byte{}
	for _, d := range drows {
		if docs[d.Source] == nil {
			docs[d.Source] = map[string][]byte{}
		}
		docs[d.Source][d.Path] = []byte(d.Body)
	}
	return &Catalog{Records: records, Problems: problems, Sources: states, Documents: docs}, nil
}

// FirstUse records a sign-in's state as used and reports whether it was new: a second use is
// a replayed callback, whichever replica it reaches. Records older than keep are pruned.
func (s *Store) FirstUse(ctx context.Context, state string, keep time.Duration) (bool, error) {
	sum := sha256.Sum256([]byte(state))
	now := time.Now().UTC()
	if _, err := s.Client.UsedLoginState.Delete().Where(usedloginstate.UsedAtLT(now.Add(-keep))).Exec(ctx); err != nil {
		return false, fmt.Errorf("prune used sign-in states: %w", err)
	}
	err := s.Client.UsedLoginState.Create().SetStateHash(hex.EncodeToString(sum[:])).SetUsedAt(now).Exec(ctx)
	if ent.IsConstraintError(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("record sign-in state: %w", err)
	}
	return true, nil
}
