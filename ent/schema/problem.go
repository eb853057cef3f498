package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// Problem is an error or warning found while reading a catalog source; a source's problems are
// replaced as a whole on each refresh.
type Problem struct {
	ent.Schema
}

// Fields of Problem.
func (Problem) Fields() []ent.Field {
	return []ent.Field{
		field.String("source"),
		field.String("file"),
		field.Int("line").Default(0),
		field.Int("column").Default(0),
		field.String("severity"),
		field.Text("message"),
		field.String("entity").Default(""),
	}
}

// Indexes of Problem.
func (Problem) Indexes() []ent.Index {
	return []ent.Index{index.Fields("source")}
}
