package server

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/portico-dev/portico/web/static"
)

// routes lists every route of the portal on one screen.
func (s *Server) routes() {
	e := s.echo
	s.middleware()

	e.GET("/", s.handleHome)
	e.GET("/catalog", s.handleCatalogList(listCatalog))
	e.GET("/systems", s.handleCatalogList(listSystems))
	e.GET("/apis", s.handleCatalogList(listAPIs))
	e.GET("/catalog/health", s.handleHealthShow)
	e.GET("/catalog/:kind/:namespace/:name", s.handleEntityShow)
	e.GET("/catalog/:kind/:namespace/:name/runtime", s.handleRuntimeShow)
	e.GET("/catalog/:kind/:namespace/:name/runtime/events", s.handleRuntimeEvents)
	e.GET("/catalog/:kind/:namespace/:name/logs", s.handleLogsShow)
	e.GET("/catalog/:kind/:namespace/:name/logs/stream", s.handleLogsStream)
	e.GET("/catalog/:kind/:namespace/:name/workloads/:cluster/:wns/:workload", s.handleWorkloadShow)
	e.GET("/catalog/:kind/:namespace/:name/workloads/:cluster/:wns/:workload/progress", s.handleWorkloadProgress)
	e.POST("/catalog/:kind/:namespace/:name/workloads/:cluster/:wns/:workload/:action", s.handleWorkloadAction)
	e.GET("/catalog/:kind/:namespace/:name/metrics", s.handleMetricsPanel)
	e.GET("/catalog/:kind/:namespace/:name/alerts", s.handleAlertsPanel)
	e.GET("/catalog/:kind/:namespace/:name/traces", s.handleTraces)
	e.GET("/catalog/:kind/:namespace/:name/dependencies", s.handleDependencies)
	e.GET("/traces/:id", s.handleTrace)
	e.GET("/alerts", s.handleAlertsPage)
	e.GET("/pipelines", s.handlePipelinesPage)
	e.GET("/catalog/:kind/:namespace/:name/pipelines", s.handlePipelinesPanel)
	e.GET("/catalog/:kind/:namespace/:name/pipelines/events", s.handlePipelineEvents)
	e.GET("/catalog/:kind/:namespace/:name/dora", s.handleDoraPanel)
	e.GET("/clusters", s.handleClustersList)
	e.GET("/audit", s.handleAuditList)
	e.GET("/audit/export", s.handleAuditExport)
	e.GET("/me", s.handleMe)
	e.GET("/teams", s.handleTeamsList)
	e.GET("/runbooks", s.handleRunbookList)
	e.GET("/runbooks/*", s.handleRunbookShow)

	api := e.Group("/api/v1")
	api.GET("/entities", s.handleAPIEntityList)
	api.GET("/entities/:kind/:namespace/:name", s.handleAPIEntityShow)
	api.GET("/entities/:kind/:namespace/:name/runtime", s.handleAPIRuntime)
	api.GET("/catalog/errors", s.handleAPICatalogErrors)
	api.POST("/entities/:kind/:namespace/:name/workloads/:cluster/:wns/:workload/:action", s.handleAPIAction)
	api.GET("/audit", s.handleAPIAudit)
	api.GET("/entities/:kind/:namespace/:name/metrics", s.handleAPIMetrics)
	api.GET("/entities/:kind/:namespace/:name/alerts", s.handleAPIAlerts)
	api.GET("/traces/:id", s.handleAPITrace)
	api.GET("/pipelines/runs", s.handleAPIRuns)
	api.GET("/dora", s.handleAPIDora)

	e.POST("/webhooks/git", s.handleWebhookGit)
	e.POST("/webhooks/github", s.handleWebhookCI("github"))
	e.POST("/webhooks/gitlab", s.handleWebhookCI("gitlab"))
	e.POST("/webhooks/pipeline", s.handleWebhookCI("generic"))

	e.GET("/auth/login", s.handleLogin)
	e.GET("/auth/callback", s.handleCallback)
	e.POST("/auth/logout", s.handleLogout)

	e.GET("/healthz", s.handleHealthz)
	e.GET("/readyz", s.handleReadyz)
	e.GET("/metrics", s.handleMetrics())
	e.GET("/static/*", echo.WrapHandler(http.StripPrefix("/static/", staticHandler(static.FS))))
}
