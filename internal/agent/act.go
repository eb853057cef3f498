package agent

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/portico-dev/portico/internal/actions"
	"github.com/portico-dev/portico/internal/policy"
)

// WorkloadIn names the workload an action is about, and how to act.
type WorkloadIn struct {
	Ref       string `json:"ref" jsonschema:"the service, e.g. component:default/payment"`
	Cluster   string `json:"cluster" jsonschema:"the cluster's name, as service_runtime lists it"`
	Namespace string `json:"namespace"`
	Workload  string `json:"workload" jsonschema:"the Deployment's name"`
	Reason    string `json:"reason,omitempty" jsonschema:"why, for the audit log; required in production"`
	// ConfirmName is the UI's typed confirmation.
	ConfirmName string `json:"confirmName,omitempty" jsonschema:"the workload's name typed out: production needs it, as in the UI"`
	Confirm     bool   `json:"confirm,omitempty" jsonschema:"leave out (or false) to get the server's dry-run preview, which changes nothing; true to act"`
	// IdempotencyKey makes a retried call act once.
	IdempotencyKey string `json:"idempotencyKey,omitempty" jsonschema:"a unique string: a call repeated with the same key acts once and answers the first call's audit entry"`
}

// DeployIn is deploy's input.
type DeployIn struct {
	WorkloadIn
	Image     string `json:"image" jsonschema:"the image to run, with a tag or digest, e.g. registry.acme.example/payment:1.4.3"`
	Container string `json:"container,omitempty" jsonschema:"which container; default the first"`
}

// RollbackIn is rollback's input.
type RollbackIn struct {
	WorkloadIn
	Revision int `json:"revision,omitempty" jsonschema:"the revision to go back to; default the previous one"`
}

// ScaleIn is scale's input.
type ScaleIn struct {
	WorkloadIn
	Replicas *int32 `json:"replicas,omitempty" jsonschema:"the replica count (for a workload without an autoscaler)"`
	Min      *int32 `json:"min,omitempty" jsonschema:"the autoscaler's minimum (for a workload with one)"`
	Max      *int32 `json:"max,omitempty" jsonschema:"the autoscaler's maximum"`
}

// RestartIn is restart's input.
type RestartIn struct {
	WorkloadIn
}

// ActionOut is an action tool's answer: the preview, or what was done.
type ActionOut struct {
	Preview   bool   `json:"preview"` // true: a dry run, nothing changed
	Action    string `json:"action"`
	Workload  string `json:"workload"` // cluster/namespace/name
	Message   string `json:"message"`
	Diff      string `json:"diff,omitempty"` // unified diff of the change
	Before    string `json:"before,omitempty"`
	After     string `json:"after,omitempty"`
	Unchanged bool   `json:"unchanged,omitempty"`
	AuditID   int    `json:"auditId,omitempty"`
	Result    string `json:"result,omitempty"`    // succeeded, failed or denied
	Duplicate bool   `json:"duplicate,omitempty"` // the idempotency key was used: this is the first call's entry
}

var actionTools = map[policy.Action]struct{ name, title, desc string }{
	policy.Deploy: {"deploy", "Deploy an image",
		"Set a Deployment's container image, as the signed-in user (their roles and the cluster's RBAC apply), audited."},
	policy.Rollback: {"rollback", "Roll back",
		"Roll a Deployment back to an earlier revision (default the previous one), as the signed-in user, audited."},
	policy.Scale: {"scale", "Scale",
		"Set a Deployment's replicas, or its autoscaler's min and max, as the signed-in user, audited."},
	policy.Restart: {"restart", "Restart",
		"Restart a Deployment's pods with a rolling restart, as the signed-in user, audited."},
}

const actionHow = " Without confirm: true this returns the server-side dry-run preview (the diff) and changes nothing; show it, then call again with confirm: true. Production needs reason and confirmName (the workload's name typed out)."

// addActionTool lists one action tool, marked destructive.
func (s *Server) addActionTool(srv *mcp.Server, a policy.Action) {
	t, ok := actionTools[a]
	if !ok {
		return
	}
	yes, no := true, false
	tl := &mcp.Tool{Name: t.name, Description: t.desc + actionHow,
		Annotations: &mcp.ToolAnnotations{Title: t.title, DestructiveHint: &yes, IdempotentHint: false, OpenWorldHint: &no}}
	switch a {
	case policy.Deploy:
		tool(s, srv, tl, func(ctx context.Context, req *mcp.CallToolRequest, in DeployIn) (string, ActionOut, error) {
			return s.act(ctx, req, a, in.WorkloadIn, actions.Input{Image: in.Image, Container: in.Container})
		})
	case policy.Rollback:
		tool(s, srv, tl, func(ctx context.Context, req *mcp.CallToolRequest, in RollbackIn) (string, ActionOut, error) {
			return s.act(ctx, req, a, in.WorkloadIn, actions.Input{Revision: in.Revision})
		})
	case policy.Scale:
		tool(s, srv, tl, func(ctx context.Context, req *mcp.CallToolRequest, in ScaleIn) (string, ActionOut, error) {
			return s.act(ctx, req, a, in.WorkloadIn, actions.Input{Replicas: in.Replicas, Min: in.Min, Max: in.Max})
		})
	case policy.Restart:
		tool(s, srv, tl, func(ctx context.Context, req *mcp.CallToolRequest, in RestartIn) (string, ActionOut, error) {
			return s.act(ctx, req, a, in.WorkloadIn, actions.Input{})
		})
	}
}

// act sends the action to the API's write path: a dry run unless confirmed.
func (s *Server) act(ctx context.Context, req *mcp.CallToolRequest, a policy.Action, w WorkloadIn, in actions.Input) (string, ActionOut, error) {
	out := ActionOut{Preview: !w.Confirm, Action: string(a), Workload: w.Cluster + "/" + w.Namespace + "/" + w.Workload}
	p, err := entityPath(w.Ref)
	if err != nil {
		return "", out, err
	}
	for name, v := range map[string]string{"cluster": w.Cluster, "namespace": w.Namespace, "workload": w.Workload} {
		if strings.TrimSpace(v) == "" {
			return "", out, fmt.Errorf("invalid: name the %s (service_runtime lists the workloads)", name)
		}
	}
	in.Reason, in.Confirm, in.DryRun = w.Reason, w.ConfirmName, !w.Confirm
	path := p + "/workloads/" + url.PathEscape(w.Cluster) + "/" + url.PathEscape(w.Namespace) + "/" + url.PathEscape(w.Workload) + "/" + string(a)
	var res actions.Outcome
	call := Call{Method: http.MethodPost, Path: path, Body: in}
	if w.Confirm {
		call.IdempotencyKey = w.IdempotencyKey
	}
	if err := s.call(ctx, req, call, &res); err != nil {
		return "", out, err
	}
	out.Message, out.Diff, out.Before, out.After, out.Unchanged = res.Result.Message, res.Result.Diff, res.Result.Before, res.Result.After, res.Result.Unchanged
	out.AuditID, out.Result, out.Duplicate = res.Entry.ID, string(res.Entry.Result), res.Duplicate
	var b strings.Builder
	switch {
	case out.Preview:
		fmt.Fprintf(&b, "Preview (dry run, nothing changed) of %s on %s: %s", a, out.Workload, orDefault(out.Message, "would apply"))
		if out.Diff != "" {
			fmt.Fprintf(&b, "\n%s", out.Diff)
		}
		b.WriteString("\nCall again with confirm: true to act.")
	case out.Duplicate:
		fmt.Fprintf(&b, "Already done: this idempotency key was used by audit entry #%d (%s).", out.AuditID, out.Result)
	default:
		fmt.Fprintf(&b, "%s on %s: %s (audit entry #%d, %s)", a, out.Workload, orDefault(out.Message, "done"), out.AuditID, out.Result)
	}
	return b.String(), out, nil
}
