package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// UsedLoginState remembers the OIDC state of each completed sign-in (hashed) for as long as
// its login cookie could be valid, so a replayed callback is refused by every replica.
type UsedLoginState struct {
	ent.Schema
}

// Fields of UsedLoginState.
func (UsedLoginState) Fields() []ent.Field {
	return []ent.Field{
		field.String("state_hash").Unique().Immutable(),
		field.Time("used_at").Immutable(),
	}
}

// Indexes of UsedLoginState.
func (UsedLoginState) Indexes() []ent.Index {
	return []ent.Index{index.Fields("used_at")}
}
