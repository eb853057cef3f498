package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/portico-dev/portico/ent"
	"github.com/portico-dev/portico/ent/document"
	"github.com/portico-dev/portico/ent/entity"
	"github.com/portico-dev/portico/ent/problem"
	"github.com/portico-dev/portico/ent/sourcestate"
	"github.com/portico-dev/portico/internal/catalog"
)

// batch keeps bulk inserts under both databases' limits on bound parameters.
const batch = 500

// SaveSource replaces what one source emits, in one transaction: unchanged entities are left
// alone, changed ones rewritten, vanished ones deleted; the source's problems, documents and
// status are replaced. Records must all belong to the source.
func (s *Store) SaveSource(ctx context.Context, source string, records []catalog.Record, problems []catalog.Problem, docs map[string][]byte, status SourceStatus) (err error) {
	tx, err := s.Client.Tx(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	existing, err := tx.Entity.Query().Where(entity.Source(source)).
		Select(entity.FieldKey, entity.FieldHash, entity.FieldOrphanedAt, entity.FieldFile, entity.FieldLine).All(ctx)
	if err != nil {
		return fmt.Errorf("read stored entities of %s: %w", source, err)
	}
	type stored struct {
		hash, file string
		line       int
		orphan     bool
	}
	old := make(map[string]stored, len(existing))
	for _, e := range existing {
		old[e.Key] = stored{e.Hash, e.File, e.Line, e.OrphanedAt != nil}
	}
	var stale []string
	var fresh []*ent.EntityCreate
	keep := make(map[string]bool, len(records))
	for _, r := range records {
		key := r.Entity.Ref().Key()
		keep[key] = true
		if o, ok := old[key]; ok && o.hash == r.Hash && o.orphan == r.Orphan() && o.file == r.File && o.line == r.Line {
			continue
		} else if ok {
			stale = append(stale, key)
		}
		c, err := entityCreate(tx.Client(), r)
		if err != nil {
			return err
		}
		fresh = append(fresh, c)
	}
	for key := range old {
		if !keep[key] {
			stale = append(stale, key)
		}
	}
	for i := 0; i < len(stale); i += batch {
		if _, err := tx.Entity.Delete().Where(entity.KeyIn(stale[i:min(i+batch, len(stale))]...)).Exec(ctx); err != nil {
			return fmt.Errorf("delete entities: %w", err)
		}
	}
	for i := 0; i < len(fresh); i += batch {
		if err := tx.Entity.CreateBulk(fresh[i:min(i+batch, len(fresh))]...).Exec(ctx); err != nil {
			return fmt.Errorf("store entities: %w", err)
		}
	}
	if _, err := tx.Problem.Delete().Where(problem.Source(source)).Exec(ctx); err != nil {
		return fmt.Errorf("clear problems: %w", err)
	}
	pcs := make([]*ent.ProblemCreate, len(problems))
	for i, p := range problems {
		pcs[i] = tx.Problem.Create().SetSource(source).SetFile(p.File).SetLine(p.Line).SetColumn(p.Column).
			SetSeverity(string(p.Severity)).SetMessage(p.Message).SetEntity(p.Entity)
	}
	for i := 0; i < len(pcs); i += batch {
		if err := tx.Problem.CreateBulk(pcs[i:min(i+batch, len(pcs))]...).Exec(ctx); err != nil {
			return fmt.Errorf("store problems: %w", err)
		}
	}
	if err := saveDocuments(ctx, tx, source, docs); err != nil {
		return err
	}
	if err := saveStatus(ctx, tx, source, status); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// SaveStatus records a refresh that changed no entities, e.g. one whose source was unreachable.
func (s *Store) SaveStatus(ctx context.Context, source string, status SourceStatus) error {
	tx, err := s.Client.Tx(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := saveStatus(ctx, tx, source, status); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

func saveDocuments(ctx context.Context, tx *ent.Tx, source string, docs map[string][]byte) error {
	if _, err := tx.Document.Delete().Where(document.Source(source)).Exec(ctx); err != nil {
		return fmt.Errorf("clear documents: %w", err)
	}
	creates := make([]*ent.DocumentCreate, 0, len(docs))
	for p, body := range docs {
		creates = append(creates, tx.Document.Create().SetSource(source).SetPath(p).SetBody(string(body)))
	}
	for i := 0; i < len(creates); i += batch {
		if err := tx.Document.CreateBulk(creates[i:min(i+batch, len(creates))]...).Exec(ctx); err != nil {
			return fmt.Errorf("store documents: %w", err)
		}
	}
	return nil
}

func saveStatus(ctx context.Context, tx *ent.Tx, source string, st SourceStatus) error {
	n, err := tx.SourceState.Update().Where(sourcestate.Name(source)).
		SetRevision(st.Revision).SetRefreshedAt(st.RefreshedAt).SetError(st.Error).
		SetEntities(st.Entities).SetDurationMs(st.Duration.Milliseconds()).Save(ctx)
	if err != nil {
		return fmt.Errorf("update source status: %w", err)
	}
	if n == 0 {
		err = tx.SourceState.Create().SetName(source).SetRevision(st.Revision).SetRefreshedAt(st.RefreshedAt).
			SetError(st.Error).SetEntities(st.Entities).SetDurationMs(st.Duration.Milliseconds()).Exec(ctx)
		if err != nil {
			return fmt.Errorf("create source status: %w", err)
		}
	}
	return nil
}

func entityCreate(c *ent.Client, r catalog.Record) (*ent.EntityCreate, error) {
	e := *r.Entity
	e.Relations = nil
	body, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", r.Entity.Ref().Key(), err)
	}
	ref := r.Entity.Ref()
	cr := c.Entity.Create().SetKey(ref.Key()).SetKind(ref.Kind).SetNamespace(ref.Namespace).SetName(ref.Name).
		SetSource(r.Source).SetFile(r.File).SetLine(r.Line).SetBody(string(body)).SetHash(r.Hash).SetUpdatedAt(r.UpdatedAt)
	if r.Orphan() {
		cr.SetOrphanedAt(r.OrphanedAt)
	}
	return cr, nil
}
