package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema/field"
)

// SourceState is the outcome of a catalog source's last refresh.
type SourceState struct {
	ent.Schema
}

// Fields of SourceState.
func (SourceState) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").Unique(),
		field.String("revision").Default("").Comment("git commit, when the source is a repository"),
		field.Time("refreshed_at"),
		field.Text("error").Default("").Comment("why the last refresh failed; empty when it succeeded"),
		field.Int("entities").Default(0),
		field.Int64("duration_ms").Default(0),
	}
}
