// Package audit keeps the append-only record of every action attempted through the portal:
// who, when, from where, what with which parameters, on which target, the state before and
// after, and the result. An entry is written as intent before the action runs, so a crash
// mid-action still leaves a record, and is completed exactly once. The database refuses
// deletes and edits (see store.protectAudit); each completed entry is also logged.
package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/portico-dev/portico/ent"
	"github.com/portico-dev/portico/ent/auditentry"
)

// Result is how an action ended.
type Result string

// Results.
const (
	Pending   Result = "pending"
	Succeeded Result = "succeeded"
	Denied    Result = "denied"
	Failed    Result = "failed"
)

// Results lists the results, for filters.
var Results = []Result{Pending, Succeeded, Denied, Failed}

// Entry is one audit record.
type Entry struct {
	ID             int       `json:"id"`
	RequestID      string    `json:"requestId"`
	IdempotencyKey string    `json:"-"`
	Actor          string    `json:"actor"`
	ActorEmail     string    `json:"actorEmail,omitempty"`
	Groups         []string  `json:"groups"`
	SourceIP       string    `json:"sourceIp"`
	Channel        string    `json:"channel,omitempty"` // ui, api or mcp:<client name>
	Action         string    `json:"action"`
	Params         string    `json:"params,omitempty"` // JSON
	Reason         string    `json:"reason,omitempty"`
	Entity         string    `json:"entity,omitempty"`
	Cluster        string    `json:"cluster,omitempty"`
	Namespace      string    `json:"namespace,omitempty"`
	Kind           string    `json:"kind,omitempty"`
	Name           string    `json:"name,omitempty"`
	Before         string    `json:"before,omitempty"`
	After          string    `json:"after,omitempty"`
	Result         Result    `json:"result"`
	Error          string    `json:"error,omitempty"`
	StartedAt      time.Time `json:"startedAt"`
	FinishedAt     time.Time `json:"finishedAt,omitzero"`
}

// ErrFinished means an entry was completed already; entries are never edited twice.
var ErrFinished = errors.New("audit entry already completed")

// ErrDuplicate means an entry with the same idempotency key exists: the form was submitted
// twice. Begin returns the first entry with it.
var ErrDuplicate = errors.New("this form was submitted already")

// Log writes and reads audit entries.
type Log struct {
	client *ent.Client
	log    *slog.Logger
}

// New returns the audit log stored through client; completed entries are also written to
// log as structured lines (nil: slog.Default()).
func New(client *ent.Client, log *slog.Logger) *Log {
	if log == nil {
		log = slog.Default()
	}
	return &Log{client: client, log: log}
}

// Begin records the intent to act and returns the entry's ID. An entry whose idempotency key
// was used before is not written: Begin returns the earlier entry and ErrDuplicate.
func (l *Log) Begin(ctx context.Context, e Entry) (Entry, error) {
	if e.Actor == "" || e.Action == "" || e.RequestID == "" {
		return Entry{}, fmt.Errorf("audit entry needs an actor, an action and a request ID")
	}
	if e.Groups == nil {
		e.Groups = []string{}
	}
	c := l.client.AuditEntry.Create().SetRequestID(e.RequestID).SetActor(e.Actor).SetActorEmail(e.ActorEmail).
		SetGroups(e.Groups).SetSourceIP(e.SourceIP).SetChannel(e.Channel).SetAction(e.Action).SetParams(e.Params).SetReason(e.Reason).SetEntity(e.Entity).
		SetCluster(e.Cluster).SetNamespace(e.Namespace).SetKind(e.Kind).SetName(e.Name).SetBefore(e.Before).SetStartedAt(time.Now().UTC())
	if e.IdempotencyKey != "" {
		c.SetIdempotencyKey(e.IdempotencyKey)
	}
	row, err := c.Save(ctx)
	if ent.IsConstraintError(err) && e.IdempotencyKey != "" {
		first, ferr := l.client.AuditEntry.Query().Where(auditentry.IdempotencyKey(e.IdempotencyKey)).Only(ctx)
		if ferr != nil {
			return Entry{}, fmt.Errorf("read the first submission: %w", ferr)
		}
		return toEntry(first), ErrDuplicate
	}
	if err != nil {
		return Entry{}, fmt.Errorf("write audit intent: %w", err)
	}
	return toEntry(row), nil
}

// Finish completes a pending entry with its result, the state after and the error if any,
// and logs it.
func (l *Log) Finish(ctx context.Context, id int, result Result, after string, cause error) error {
	if result == Pending {
		return fmt.Errorf("finish with a final result, not %s", result)
	}
	msg := ""
	if cause != nil {
		msg = cause.Error()
	}
	n, err := l.client.AuditEntry.Update().Where(auditentry.ID(id), auditentry.ResultEQ(auditentry.ResultPending)).
		SetResult(auditentry.Result(result)).SetAfter(after).SetError(msg).SetFinishedAt(time.Now().UTC()).Save(ctx)
	if err != nil {
		return fmt.Errorf("complete audit entry %d: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("entry %d: %w", id, ErrFinished)
	}
	if row, err := l.client.AuditEntry.Get(ctx, id); err == nil {
		e := toEntry(row)
		l.log.Info("audit", "audit_id", e.ID, "request_id", e.RequestID, "actor", e.Actor, "groups", e.Groups, "source_ip", e.SourceIP, "channel", e.Channel,
			"action", e.Action, "params", e.Params, "reason", e.Reason, "entity", e.Entity, "cluster", e.Cluster, "namespace", e.Namespace,
			"kind", e.Kind, "name", e.Name, "before", e.Before, "after", e.After, "result", string(e.Result), "error", e.Error,
			"duration_ms", e.FinishedAt.Sub(e.StartedAt).Milliseconds())
	}
	return nil
}

// Get returns one entry.
func (l *Log) Get(ctx context.Context, id int) (Entry, error) {
	row, err := l.client.AuditEntry.Get(ctx, id)
	if err != nil {
		return Entry{}, fmt.Errorf("read audit entry %d: %w", id, err)
	}
	return toEntry(row), nil
}

// Filter selects entries, newest first. Before pages: entries with a smaller ID.
type Filter struct {
	Actor, Entity, Cluster, Namespace, Name, Action string
	Entities, Actions                               []string // any of these (with Entity and Action, all apply)
	Result                                          Result
	Since, Until                                    time.Time
	Before                                          int
	Limit                                           int
}

// MaxLimit caps one page; exports page through everything.
const MaxLimit = 1000

// List returns entries matching f, newest first.
func (l *Log) List(ctx context.Context, f Filter) ([]Entry, error) {
	q := l.client.AuditEntry.Query().Order(ent.Desc(auditentry.FieldID))
	if f.Actor != "" {
		q = q.Where(auditentry.Or(auditentry.Actor(f.Actor), auditentry.ActorEmail(f.Actor)))
	}
	if f.Entity != "" {
		q = q.Where(auditentry.Entity(f.Entity))
	}
	if len(f.Entities) > 0 {
		q = q.Where(auditentry.EntityIn(f.Entities...))
	}
	if len(f.Actions) > 0 {
		q = q.Where(auditentry.ActionIn(f.Actions...))
	}
	if f.Cluster != "" {
		q = q.Where(auditentry.Cluster(f.Cluster))
	}
	if f.Namespace != "" {
		q = q.Where(auditentry.Namespace(f.Namespace))
	}
	if f.Name != "" {
		q = q.Where(auditentry.Name(f.Name))
	}
	if f.Action != "" {
		q = q.Where(auditentry.Action(f.Action))
	}
	if f.Result != "" {
		q = q.Where(auditentry.ResultEQ(auditentry.Result(f.Result)))
	}
	if !f.Since.IsZero() {
		q = q.Where(auditentry.StartedAtGTE(f.Since))
	}
	if !f.Until.IsZero() {
		q = q.Where(auditentry.StartedAtLT(f.Until))
	}
	if f.Before > 0 {
		q = q.Where(auditentry.IDLT(f.Before))
	}
	if f.Limit <= 0 || f.Limit > MaxLimit {
		f.Limit = 100
	}
	rows, err := q.Limit(f.Limit).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("read audit log: %w", err)
	}
	out := make([]Entry, len(rows))
	for i, r := range rows {
		out[i] = toEntry(r)
	}
	return out, nil
}

func toEntry(r *ent.AuditEntry) Entry {
	e := Entry{ID: r.ID, RequestID: r.RequestID, Actor: r.Actor, ActorEmail: r.ActorEmail, Groups: r.Groups, SourceIP: r.SourceIP, Channel: r.Channel,
		Action: r.Action, Params: r.Params, Reason: r.Reason, Entity: r.Entity, Cluster: r.Cluster, Namespace: r.Namespace, Kind: r.Kind,
		Name: r.Name, Before: r.Before, After: r.After, Result: Result(r.Result), Error: r.Error, StartedAt: r.StartedAt}
	if r.IdempotencyKey != nil {
		e.IdempotencyKey = *r.IdempotencyKey
	}
	if r.FinishedAt != nil {
		e.FinishedAt = *r.FinishedAt
	}
	return e
}
