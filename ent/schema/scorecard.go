package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// ScorecardExemption excuses one service from one check until it expires: who granted it,
// why, and the audit entry of the grant. Revoked ones are kept, marked.
type ScorecardExemption struct {
	ent.Schema
}

// Fields of ScorecardExemption.
func (ScorecardExemption) Fields() []ent.Field {
	return []ent.Field{
		field.String("entity").Immutable(),
		field.String("check").Immutable(),
		field.String("reason").Immutable(),
		field.String("granted_by").Immutable(),
		field.Time("granted_at").Immutable(),
		field.Time("expires_at").Immutable(),
		field.Time("revoked_at").Optional().Nillable(),
		field.String("revoked_by").Optional(),
		field.Int("audit_id").Optional(),
	}
}

// Indexes of ScorecardExemption.
func (ScorecardExemption) Indexes() []ent.Index {
	return []ent.Index{index.Fields("entity", "check"), index.Fields("expires_at")}
}

// ScorecardSnapshot is one day's results of one service: its level, score and each check's
// status, for the trends and initiatives' burn-up.
type ScorecardSnapshot struct {
	ent.Schema
}

// Fields of ScorecardSnapshot.
func (ScorecardSnapshot) Fields() []ent.Field {
	return []ent.Field{
		field.String("day").Immutable(), // YYYY-MM-DD, UTC
		field.String("entity").Immutable(),
		field.String("owner").Default(""),
		field.String("level").Default(""),
		field.Int("score"),
		field.JSON("statuses", map[string]string{}), // check id → status
	}
}

// Indexes of ScorecardSnapshot.
func (ScorecardSnapshot) Indexes() []ent.Index {
	return []ent.Index{index.Fields("day", "entity").Unique(), index.Fields("owner", "day")}
}
