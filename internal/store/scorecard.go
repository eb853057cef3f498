package store

import (
	"context"
	"fmt"
	"time"

	"github.com/portico-dev/portico/ent"
	"github.com/portico-dev/portico/ent/scorecardexemption"
	"github.com/portico-dev/portico/ent/scorecardsnapshot"
)

// Exemption excuses a service from a check until it expires.
type Exemption struct {
	ID        int       `json:"id"`
	Entity    string    `json:"entity"`
	Check     string    `json:"check"`
	Reason    string    `json:"reason"`
	GrantedBy string    `json:"grantedBy"`
	GrantedAt time.Time `json:"grantedAt"`
	ExpiresAt time.Time `json:"expiresAt"`
	AuditID   int       `json:"auditId,omitempty"`
}

func toExemption(e *ent.ScorecardExemption) Exemption {
	return Exemption{ID: e.ID, Entity: e.Entity, Check: e.Check, Reason: e.Reason, GrantedBy: e.GrantedBy,
		GrantedAt: e.GrantedAt, ExpiresAt: e.ExpiresAt, AuditID: e.AuditID}
}

// GrantExemption records an exemption; an active one for the same service and check is
// replaced (revoked by the new grant).
func (s *Store) GrantExemption(ctx context.Context, e Exemption) (Exemption, error) {
	tx, err := s.Client.Tx(ctx)
	if err != nil {
		return Exemption{}, fmt.Errorf("grant exemption: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ScorecardExemption.Update().Where(scorecardexemption.Entity(e.Entity), scorecardexemption.Check(e.Check),
		scorecardexemption.RevokedAtIsNil(), scorecardexemption.ExpiresAtGT(e.GrantedAt)).
		SetRevokedAt(e.GrantedAt).SetRevokedBy(e.GrantedBy).Save(ctx); err != nil {
		return Exemption{}, fmt.Errorf("grant exemption: %w", err)
	}
	row, err := tx.ScorecardExemption.Create().SetEntity(e.Entity).SetCheck(e.Check).SetReason(e.Reason).SetGrantedBy(e.GrantedBy).
		SetGrantedAt(e.GrantedAt).SetExpiresAt(e.ExpiresAt).SetAuditID(e.AuditID).Save(ctx)
	if err != nil {
		return Exemption{}, fmt.Errorf("grant exemption: %w", err)
	}
	return toExemption(row), tx.Commit()
}

// RevokeExemption ends a service's active exemption from a check; false when it had none.
func (s *Store) RevokeExemption(ctx context.Context, entity, check, by string, at time.Time) (bool, error) {
	n, err := s.Client.ScorecardExemption.Update().Where(scorecardexemption.Entity(entity), scorecardexemption.Check(check),
		scorecardexemption.RevokedAtIsNil(), scorecardexemption.ExpiresAtGT(at)).SetRevokedAt(at).SetRevokedBy(by).Save(ctx)
	if err != nil {
		return false, fmt.Errorf("revoke exemption: %w", err)
	}
	return n > 0, nil
}

// ActiveExemptions are the exemptions in force at now.
func (s *Store) ActiveExemptions(ctx context.Context, now time.Time) ([]Exemption, error) {
	rows, err := s.Client.ScorecardExemption.Query().Where(scorecardexemption.RevokedAtIsNil(), scorecardexemption.ExpiresAtGT(now)).
		Order(ent.Asc(scorecardexemption.FieldExpiresAt)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("read exemptions: %w", err)
	}
	out := make([]Exemption, len(rows))
	for i, r := range rows {
		out[i] = toExemption(r)
	}
	return out, nil
}

// Snapshot is one day's scorecard of one service.
type Snapshot struct {
	Day      string            `json:"day"` // YYYY-MM-DD, UTC
	Entity   string            `json:"entity"`
	Owner    string            `json:"owner"`
	Level    string            `json:"level"`
	Score    int               `json:"score"`
	Statuses map[string]string `json:"statuses"` // check id → status
}

// SaveSnapshots writes a day's snapshot of every service given, replacing that day's earlier
// one of each.
func (s *Store) SaveSnapshots(ctx context.Context, day string, snaps []Snapshot) error {
	tx, err := s.Client.Tx(ctx)
	if err != nil {
		return fmt.Errorf("save snapshots: %w", err)
	}
	defer tx.Rollback()
	entities := make([]string, len(snaps))
	for i, sn := range snaps {
		entities[i] = sn.Entity
	}
	for start := 0; start < len(entities); start += 500 { // bounded IN lists
		end := min(start+500, len(entities))
		if _, err := tx.ScorecardSnapshot.Delete().Where(scorecardsnapshot.Day(day), scorecardsnapshot.EntityIn(entities[start:end]...)).Exec(ctx); err != nil {
			return fmt.Errorf("save snapshots: %w", err)
		}
	}
	for start := 0; start < len(snaps); start += 500 {
		end := min(start+500, len(snaps))
		bulk := make([]*ent.ScorecardSnapshotCreate, 0, end-start)
		for _, sn := range snaps[start:end] {
			bulk = append(bulk, tx.ScorecardSnapshot.Create().SetDay(day).SetEntity(sn.Entity).SetOwner(sn.Owner).SetLevel(sn.Level).
				SetScore(sn.Score).SetStatuses(sn.Statuses))
		}
		if _, err := tx.ScorecardSnapshot.CreateBulk(bulk...).Save(ctx); err != nil {
			return fmt.Errorf("save snapshots: %w", err)
		}
	}
	return tx.Commit()
}

// Snapshots are the snapshots from day since on, oldest first; owner narrows them to a team.
func (s *Store) Snapshots(ctx context.Context, since, owner string) ([]Snapshot, error) {
	q := s.Client.ScorecardSnapshot.Query().Where(scorecardsnapshot.DayGTE(since))
	if owner != "" {
		q = q.Where(scorecardsnapshot.Owner(owner))
	}
	rows, err := q.Order(ent.Asc(scorecardsnapshot.FieldDay), ent.Asc(scorecardsnapshot.FieldEntity)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("read snapshots: %w", err)
	}
	out := make([]Snapshot, len(rows))
	for i, r := range rows {
		out[i] = Snapshot{Day: r.Day, Entity: r.Entity, Owner: r.Owner, Level: r.Level, Score: r.Score, Statuses: r.Statuses}
	}
	return out, nil
}
