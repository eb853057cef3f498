package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// AuditEntry records one attempted action: written as intent before it runs and completed
// once with its result, never edited afterwards or deleted.
type AuditEntry struct {
	ent.Schema
}

// Fields of AuditEntry.
func (AuditEntry) Fields() []ent.Field {
	return []ent.Field{
		field.String("request_id").Immutable(),
		field.String("idempotency_key").Optional().Nillable().Unique().Immutable().
			Comment("the submitting form's one-time key: a second submit of the same form finds this entry instead of acting again"),
		field.String("entity").Default("").Immutable().Comment("the catalog entity acted on, e.g. component:default/payment"),
		field.Text("reason").Default("").Immutable(),
		field.String("actor").Immutable().Comment("the signed-in user's subject or name"),
		field.String("actor_email").Default("").Immutable(),
		field.JSON("groups", []string{}).Immutable(),
		field.String("source_ip").Default("").Immutable(),
		field.String("channel").Default("").Immutable().
			Comment("where the request came from: ui (a page), api (the JSON API) or mcp:<client> (an AI assistant over MCP)"),
		field.String("action").Immutable(),
		field.Text("params").Default("").Immutable().Comment("the action's parameters as JSON"),
		field.String("cluster").Default("").Immutable(),
		field.String("namespace").Default("").Immutable(),
		field.String("kind").Default("").Immutable(),
		field.String("name").Default("").Immutable(),
		field.Text("before").Default("").Immutable(),
		field.Text("after").Default(""),
		field.Enum("result").Values("pending", "succeeded", "denied", "failed").Default("pending"),
		field.Text("error").Default(""),
		field.Time("started_at").Immutable(),
		field.Time("finished_at").Optional().Nillable(),
	}
}

// Indexes of AuditEntry.
func (AuditEntry) Indexes() []ent.Index {
	return []ent.Index{index.Fields("started_at"), index.Fields("actor"), index.Fields("cluster", "namespace", "name"), index.Fields("entity")}
}
