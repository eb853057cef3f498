package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// Document is a Markdown file kept in a catalog source that an entity links to as its
// runbook; replaced with the source's other documents on each refresh.
type Document struct {
	ent.Schema
}

// Fields of Document.
func (Document) Fields() []ent.Field {
	return []ent.Field{
		field.String("source"),
		field.String("path").Comment("path inside the source"),
		field.Text("body"),
	}
}

// Indexes of Document.
func (Document) Indexes() []ent.Index {
	return []ent.Index{index.Fields("source", "path").Unique()}
}
