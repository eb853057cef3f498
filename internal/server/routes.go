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
	e.GET("/traces/:id", s.handleTrace)
	e.GET("/alerts", s.handleAlertsPage)
	e.GET("/pipelines", s.handlePipelinesPage)

	// Everything about one entity: entityScope loads it and checks view, once, for all.
	ent := e.Group("/catalog/:kind/:namespace/:name", s.entityScope)
	ent.GET("", s.handleEntityShow)
	ent.GET("/runtime", s.handleRuntimeShow)
	ent.GET("/runtime/events", s.handleRuntimeEvents)
	ent.GET("/logs", s.handleLogsShow)
	ent.GET("/logs/stream", s.handleLogsStream)
	ent.GET("/workloads/:cluster/:wns/:workload", s.handleWorkloadShow)
	ent.GET("/workloads/:cluster/:wns/:workload/progress", s.handleWorkloadProgress)
	ent.POST("/workloads/:cluster/:wns/:workload/:action", s.handleWorkloadAction)
	ent.GET("/metrics", s.handleMetricsPanel)
	ent.GET("/alerts", s.handleAlertsPanel)
	ent.GET("/traces", s.handleTraces)
	ent.GET("/dependencies", s.handleDependencies)
	ent.GET("/pipelines", s.handlePipelinesPanel)
	ent.GET("/pipelines/events", s.handlePipelineEvents)
	ent.GET("/dora", s.handleDoraPanel)

	e.GET("/clusters", s.handleClustersList)
	e.GET("/audit", s.handleAuditList)
	e.GET("/audit/export", s.handleAuditExport)
	e.GET("/me", s.handleMe)
	e.GET("/teams", s.handleTeamsList)
	e.GET("/runbooks", s.handleRunbookList)
	e.GET("/runbooks/*", s.handleRunbookShow)

	api := e.Group("/api/v1")
	api.GET("/entities", s.handleAPIEntityList)
	api.GET("/catalog/errors", s.handleAPICatalogErrors)
	api.GET("/audit", s.handleAPIAudit)
	apiEnt := api.Group("/entities/:kind/:namespace/:name", s.entityScope)
	apiEnt.GET("", s.handleAPIEntityShow)
	apiEnt.GET("/runtime", s.handleAPIRuntime)
	apiEnt.POST("/workloads/:cluster/:wns/:workload/:action", s.handleAPIAction)
	apiEnt.GET("/metrics", s.handleAPIMetrics)
	apiEnt.GET("/alerts", s.handleAPIAlerts)
	api.GET("/traces/:id", s.handleAPITrace)
	api.GET("/pipelines/runs", s.handleAPIRuns)
	api.GET("/dora", s.handleAPIDora)

	hooks := e.Group("/webhooks", s.limit("webhooks", s.WebhookRateLimit))
	hooks.POST("/git", s.handleWebhookGit)
	hooks.POST("/github", s.handleWebhookCI("github"))
	hooks.POST("/gitlab", s.handleWebhookCI("gitlab"))
	hooks.POST("/pipeline", s.handleWebhookCI("generic"))

	signIn := e.Group("/auth", s.limit("auth", s.AuthRateLimit))
	signIn.GET("/login", s.handleLogin)
	signIn.GET("/callback", s.handleCallback)
	signIn.POST("/logout", s.handleLogout)

	e.GET("/healthz", s.handleHealthz)
	e.GET("/readyz", s.handleReadyz)
	e.GET("/metrics", s.handleMetrics())
	e.GET("/static/*", echo.WrapHandler(http.StripPrefix("/static/", staticHandler(static.FS))))
}
