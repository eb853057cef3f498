// Package schema declares Portico's database tables as ent schemas.
package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// Entity is one catalog entity as its source last emitted it (or its last good version).
type Entity struct {
	ent.Schema
}

// Fields of Entity.
func (Entity) Fields() []ent.Field {
	return []ent.Field{
		field.String("key").Unique().Immutable().Comment(`lower-case "kind:namespace/name"`),
		field.String("kind"),
		field.String("namespace"),
		field.String("name"),
		field.String("source").Comment("name of the catalog source that emits it"),
		field.String("file").Comment("path inside the source"),
		field.Int("line"),
		field.Text("body").Comment("the entity as JSON, relations excluded (they are computed)"),
		field.String("hash"),
		field.Time("orphaned_at").Optional().Nillable(),
		field.Time("updated_at"),
	}
}

// Indexes of Entity.
func (Entity) Indexes() []ent.Index {
	return []ent.Index{index.Fields("source")}
}
