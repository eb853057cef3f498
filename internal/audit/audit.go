// Package audit keeps the append-only record of every action attempted through the portal:
// who, when, from where, what with which parameters, on which target, the state before and
// after, and the result. An entry is written as intent before the action runs, so a crash
// mid-action still leaves a record, and is completed exactly once.
package audit

import (
	"context"
	"errors"
	"fmt"
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

// Entry is one audit record.
type Entry struct {
	ID         int
	RequestID  string
	Actor      string
	ActorEmail string
	Groups     []string
	SourceIP   string
	Action     string
	Params     string // JSON
	Cluster    string
	Namespace  string
	Kind       string
	Name       string
	Before     string
	After      string
	Result     Result
	Error      string
	StartedAt  time.Time
	FinishedAt time.Time
}

// ErrFinished means an entry was completed already; entries are never edited twice.
var ErrFinished = errors.New("audit entry already completed")

// Log writes and reads audit entries.
type Log struct {
	client *ent.Client
}

// New returns the audit log stored through client.
func New(client *ent.Client) *Log { return &Log{client: client} }

// Begin records the intent to act and returns the entry's ID.
func (l *Log) Begin(ctx context.Context, e Entry) (int, error) {
	if e.Actor == "" || e.Action == "" || e.RequestID == "" {
		return 0, fmt.Errorf("audit entry needs an actor, an action and a request ID")
	}
	if e.Groups == nil {
		e.Groups = []string{}
	}
	row, err := l.client.AuditEntry.Create().SetRequestID(e.RequestID).SetActor(e.Actor).SetActorEmail(e.ActorEmail).
		SetGroups(e.Groups).SetSourceIP(e.SourceIP).SetAction(e.Action).SetParams(e.Params).SetCluster(e.Cluster).
		SetNamespace(e.Namespace).SetKind(e.Kind).SetName(e.Name).SetBefore(e.Before).SetStartedAt(time.Now().UTC()).Save(ctx)
	if err != nil {
		return 0, fmt.Errorf("write audit intent: %w", err)
	}
	return row.ID, nil
}

// Finish completes a pending entry with its result, the state after and the error if any.
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
	return nil
}

// Filter selects entries, newest first.
type Filter struct {
	Actor, Cluster, Namespace, Name string
	Result                          Result
	Limit                           int
}

// List returns entries matching f, newest first.
func (l *Log) List(ctx context.Context, f Filter) ([]Entry, error) {
	q := l.client.AuditEntry.Query().Order(ent.Desc(auditentry.FieldID))
	if f.Actor != "" {
		q = q.Where(auditentry.Actor(f.Actor))
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
	if f.Result != "" {
		q = q.Where(auditentry.ResultEQ(auditentry.Result(f.Result)))
	}
	if f.Limit <= 0 || f.Limit > 500 {
		f.Limit = 100
	}
	rows, err := q.Limit(f.Limit).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("read audit log: %w", err)
	}
	out := make([]Entry, len(rows))
	for i, r := range rows {
		out[i] = Entry{ID: r.ID, RequestID: r.RequestID, Actor: r.Actor, ActorEmail: r.ActorEmail, Groups: r.Groups, SourceIP: r.SourceIP,
			Action: r.Action, Params: r.Params, Cluster: r.Cluster, Namespace: r.Namespace, Kind: r.Kind, Name: r.Name,
			Before: r.Before, After: r.After, Result: Result(r.Result), Error: r.Error, StartedAt: r.StartedAt}
		if r.FinishedAt != nil {
			out[i].FinishedAt = *r.FinishedAt
		}
	}
	return out, nil
}
