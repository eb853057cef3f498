package agent

import (
	"context"
	"fmt"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

const runbookScheme = "portico://runbooks/"

// addRunbooks serves every runbook as a Markdown resource, and any by its path.
func (s *Server) addRunbooks(srv *mcp.Server) {
	if s.cfg.Runbooks == nil {
		return
	}
	read := func(_ context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
		p := strings.TrimPrefix(req.Params.URI, runbookScheme)
		b, ok := s.cfg.Runbooks.Get(p)
		if !ok {
			return nil, mcp.ResourceNotFoundError(req.Params.URI)
		}
		return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: req.Params.URI, MIMEType: "text/markdown", Text: b.Markdown()}}}, nil
	}
	for _, b := range s.cfg.Runbooks.List("") {
		srv.AddResource(&mcp.Resource{URI: runbookScheme + b.Path, Name: b.Path, Title: b.Title, Description: b.Summary, MIMEType: "text/markdown"}, read)
	}
	srv.AddResourceTemplate(&mcp.ResourceTemplate{URITemplate: runbookScheme + "{+path}", Name: "runbook", Title: "A runbook",
		Description: "A runbook's Markdown by its path, as alerts' runbook links and the runbook list name it", MIMEType: "text/markdown"}, read)
}

// addPrompts offers the workflows people ask for most.
func addPrompts(srv *mcp.Server) {
	srv.AddPrompt(&mcp.Prompt{Name: "triage_service", Title: "Triage a service",
		Description: "Find out why a service is failing and what to do about it",
		Arguments:   []*mcp.PromptArgument{{Name: "service", Description: "the service, e.g. payment", Required: true}}},
		func(_ context.Context, req *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
			svc := req.Params.Arguments["service"]
			if strings.TrimSpace(svc) == "" {
				return nil, fmt.Errorf("name the service")
			}
			return &mcp.GetPromptResult{Description: "Triage " + svc, Messages: []*mcp.PromptMessage{{Role: "user", Content: &mcp.TextContent{Text: fmt.Sprintf(
				`%s is having trouble. Using Portico's tools:
1. Call triage for %s: read its health, its suspects (ranked, with evidence) and the change timeline.
2. Check service_runtime for the workloads' state and alerts_firing for what is paging.
3. If a suspect is a deploy, look at what_runs_where and the failed traces (service_traces with order failed, then trace_critical_path on one).
4. Read the runbook the alerts link to (resources under portico://runbooks/).
Then say in a few sentences what is most likely wrong, the evidence, and the mitigation the triage offers.
Do not act: if a rollback or restart is warranted, call the action tool without confirm to show its preview and ask before confirming.`, svc, svc)}}}}, nil
		})
	srv.AddPrompt(&mcp.Prompt{Name: "deploy_safely", Title: "Deploy an image safely",
		Description: "Deploy a new image to a service with a preview, checks and a watch afterwards",
		Arguments: []*mcp.PromptArgument{{Name: "service", Required: true, Description: "the service"},
			{Name: "image", Required: true, Description: "the image with its tag"}, {Name: "environment", Description: "staging or production"}}},
		func(_ context.Context, req *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
			a := req.Params.Arguments
			return &mcp.GetPromptResult{Description: "Deploy " + a["image"], Messages: []*mcp.PromptMessage{{Role: "user", Content: &mcp.TextContent{Text: fmt.Sprintf(
				`Deploy %s to %s (%s). First check scorecards and pipeline_runs for the image's build and scan, and on_fire for ongoing incidents.
Find the workload with service_runtime, call deploy without confirm and show me the diff. After I agree, call it again with confirm: true
(in production with a reason and confirmName), then watch service_runtime and alerts_firing until the rollout completes.`,
				a["image"], a["service"], orDefault(a["environment"], "staging"))}}}}, nil
		})
}
