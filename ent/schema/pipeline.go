package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// PipelineRun is one CI run, as the latest delivery about it left it.
type PipelineRun struct {
	ent.Schema
}

// Fields of PipelineRun.
func (PipelineRun) Fields() []ent.Field {
	return []ent.Field{
		field.String("source"), field.String("project"), field.String("run_id"),
		field.String("name").Default(""), field.Text("url").Default(""), field.String("branch").Default(""), field.String("commit").Default(""),
		field.String("author").Default(""), field.Text("message").Default(""), field.String("trigger").Default(""),
		field.String("status").Default("queued"),
		field.Time("created_at").Optional().Nillable(), field.Time("started_at").Optional().Nillable(), field.Time("finished_at").Optional().Nillable(),
		field.Time("updated_at").Optional().Nillable().Comment("the provider's time of the state stored: later deliveries win, earlier ones are ignored"),
		field.Time("received_at"),
	}
}

// Indexes of PipelineRun.
func (PipelineRun) Indexes() []ent.Index {
	return []ent.Index{index.Fields("source", "project", "run_id").Unique(), index.Fields("project", "received_at"), index.Fields("status")}
}

// PipelineJob is one job of a run, mapped to a delivery stage.
type PipelineJob struct {
	ent.Schema
}

// Fields of PipelineJob.
func (PipelineJob) Fields() []ent.Field {
	return []ent.Field{
		field.String("source"), field.String("project"), field.String("run_id"), field.String("job_id"),
		field.String("name").Default(""), field.String("stage_name").Default(""), field.String("stage").Default("other"),
		field.String("status").Default("queued"), field.Text("url").Default(""), field.String("image").Default(""),
		field.Time("started_at").Optional().Nillable(), field.Time("finished_at").Optional().Nillable(), field.Time("updated_at").Optional().Nillable(),
	}
}

// Indexes of PipelineJob.
func (PipelineJob) Indexes() []ent.Index {
	return []ent.Index{index.Fields("source", "project", "run_id", "job_id").Unique(), index.Fields("image")}
}

// PipelineDelivery remembers a webhook delivery's ID so a redelivery changes nothing.
type PipelineDelivery struct {
	ent.Schema
}

// Fields of PipelineDelivery.
func (PipelineDelivery) Fields() []ent.Field {
	return []ent.Field{field.String("source"), field.String("delivery_id"), field.String("kind").Default(""), field.Time("received_at")}
}

// Indexes of PipelineDelivery.
func (PipelineDelivery) Indexes() []ent.Index {
	return []ent.Index{index.Fields("source", "delivery_id").Unique(), index.Fields("received_at")}
}

// PipelineCommit is a commit pushed to a branch, in the order pushes arrived.
type PipelineCommit struct {
	ent.Schema
}

// Fields of PipelineCommit.
func (PipelineCommit) Fields() []ent.Field {
	return []ent.Field{field.String("project"), field.String("branch"), field.String("sha"), field.Text("message").Default(""),
		field.String("author").Default(""), field.Time("committed_at").Optional().Nillable()}
}

// Indexes of PipelineCommit.
func (PipelineCommit) Indexes() []ent.Index {
	return []ent.Index{index.Fields("project", "branch", "sha").Unique()}
}

// PipelineDeployment is a deployment reported by CI (GitHub or GitLab deployments, generic events).
type PipelineDeployment struct {
	ent.Schema
}

// Fields of PipelineDeployment.
func (PipelineDeployment) Fields() []ent.Field {
	return []ent.Field{field.String("source"), field.String("project"), field.String("deployment_id"), field.String("environment").Default(""),
		field.String("commit").Default(""), field.String("ref").Default(""), field.String("status").Default("queued"), field.String("image").Default(""),
		field.String("creator").Default(""), field.Text("url").Default(""), field.Time("updated_at").Optional().Nillable()}
}

// Indexes of PipelineDeployment.
func (PipelineDeployment) Indexes() []ent.Index {
	return []ent.Index{index.Fields("source", "project", "deployment_id").Unique(), index.Fields("project", "environment")}
}
