package server

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/portico-dev/portico/web/static"
)

// routes lists every route of the portal on one screen. Routes of an optional backend are
// registered only when it is configured, so their handlers need not check, and without it
// they answer 404 like any unknown address.
func (s *Server) routes() {
	e := s.echo
	s.middleware()
	metrics, alerts, traces, pipelines, audit := s.Metrics != nil, s.Alerts != nil, s.Traces != nil, s.Pipelines != nil, s.Audit != nil

	e.GET("/", s.handleHome)
	e.GET("/catalog", s.handleCatalogList(listCatalog))
	e.GET("/systems", s.handleCatalogList(listSystems))
	e.GET("/apis", s.handleCatalogList(listAPIs))
	e.GET("/catalog/health", s.handleHealthShow)
	e.GET("/fire", s.handleFireList)
	e.GET("/scorecards", s.handleScorecardsPage)
	e.GET("/scorecards/initiatives/:id", s.handleInitiative)
	e.GET(badgePrefix+":kind/:namespace/:name", s.handleScorecardBadge)
	when(traces, func() { e.GET("/traces/:id", s.handleTrace) })
	when(alerts, func() {
		e.GET("/alerts", s.handleAlertsPage)
		e.GET("/alerts/:fingerprint/triage", s.handleAlertTriage)
	})
	when(pipelines, func() { e.GET("/pipelines", s.handlePipelinesPage) })

	// Everything about one entity: entityScope loads it and checks view, once, for all.
	entity := e.Group("/catalog/:kind/:namespace/:name", s.entityScope)
	entity.GET("", s.handleEntityShow)
	entity.GET("/runtime", s.handleRuntimeShow)
	entity.GET("/runtime/events", s.handleRuntimeEvents, s.streaming)
	entity.GET("/network", s.handleNetworkPanel)
	entity.GET("/autoscaling", s.handleAutoscalingPanel)
	entity.GET("/mesh", s.handleMeshPanel)
	entity.GET("/logs", s.handleLogsShow)
	entity.GET("/logs/stream", s.handleLogsStream, s.streaming)
	entity.GET("/workloads/:cluster/:wns/:workload", s.handleWorkloadShow)
	entity.GET("/workloads/:cluster/:wns/:workload/progress", s.handleWorkloadProgress)
	entity.POST("/workloads/:cluster/:wns/:workload/:action", s.handleWorkloadAction)
	entity.GET("/triage", s.handleTriageShow)
	entity.GET("/triage/banner", s.handleTriageBanner)
	entity.GET("/scorecard", s.handleScorecardPanel)
	entity.GET("/scorecard/events", s.handleScorecardEvents, s.streaming)
	entity.POST("/scorecard/exemptions", s.handleScorecardExempt)
	when(metrics, func() { entity.GET("/metrics", s.handleMetricsPanel) })
	when(alerts, func() { entity.GET("/alerts", s.handleAlertsPanel) })
	when(traces, func() { entity.GET("/traces", s.handleTraces); entity.GET("/dependencies", s.handleDependencies) })
	when(pipelines, func() {
		entity.GET("/pipelines", s.handlePipelinesPanel)
		entity.GET("/pipelines/events", s.handlePipelineEvents, s.streaming)
		entity.GET("/dora", s.handleDoraPanel)
		entity.GET("/where", s.handleWherePanel)
	})

	e.GET("/clusters", s.handleClustersList)
	e.GET("/clusters/:cluster", s.handleClusterShow)
	e.GET("/clusters/:cluster/live", s.handleClusterLive)
	when(metrics, func() { e.GET("/clusters/:cluster/apiserver", s.handleAPIServerPanel) })
	e.GET("/clusters/:cluster/nodes/:node", s.handleNodeShow)
	e.POST("/clusters/:cluster/nodes/:node/:action", s.handleNodeAction)
	when(audit, func() { e.GET("/audit", s.handleAuditList); e.GET("/audit/export", s.handleAuditExport) })
	e.GET("/me", s.handleMe)
	e.GET("/teams", s.handleTeamsList)
	e.GET("/runbooks", s.handleRunbookList)
	e.GET("/runbooks/*", s.handleRunbookShow)

	api := e.Group("/api/v1")
	api.GET("/entities", s.handleAPIEntityList)
	api.GET("/catalog/errors", s.handleAPICatalogErrors)
	api.GET("/fire", s.handleAPIFire)
	api.GET("/scorecards", s.handleAPIScorecards)
	when(audit, func() { api.GET("/audit", s.handleAPIAudit) })
	api.GET("/clusters", s.handleAPIClusters)
	api.GET("/clusters/:cluster", s.handleAPICluster)
	api.GET("/clusters/:cluster/nodes/:node", s.handleAPINode)
	api.POST("/clusters/:cluster/nodes/:node/:action", s.handleAPINodeAction)
	apiEnt := api.Group("/entities/:kind/:namespace/:name", s.entityScope)
	apiEnt.GET("", s.handleAPIEntityShow)
	apiEnt.GET("/runtime", s.handleAPIRuntime)
	apiEnt.GET("/network", s.handleAPINetwork)
	apiEnt.GET("/autoscaling", s.handleAPIAutoscaling)
	apiEnt.GET("/mesh", s.handleAPIMesh)
	apiEnt.GET("/triage", s.handleAPITriage)
	apiEnt.GET("/scorecard", s.handleAPIEntityScorecard)
	apiEnt.POST("/scorecard/exemptions", s.handleAPIScorecardExempt)
	apiEnt.POST("/workloads/:cluster/:wns/:workload/:action", s.handleAPIAction)
	apiEnt.GET("/logs", s.handleAPILogs)
	when(metrics, func() { apiEnt.GET("/metrics", s.handleAPIMetrics) })
	when(alerts, func() { apiEnt.GET("/alerts", s.handleAPIAlerts); api.GET("/alerts", s.handleAPIAlertList) })
	when(traces, func() {
		apiEnt.GET("/traces", s.handleAPITraces)
		api.GET("/traces/:id", s.handleAPITrace)
		api.GET("/traces/:id/critical-path", s.handleAPICriticalPath)
	})
	when(pipelines, func() {
		api.GET("/pipelines/runs", s.handleAPIRuns)
		api.GET("/dora", s.handleAPIDora)
		apiEnt.GET("/where", s.handleAPIWhere)
	})

	hooks := e.Group("/webhooks", s.limit("webhooks", s.WebhookRateLimit))
	hooks.POST("/git", s.handleWebhookGit)
	when(pipelines, func() {
		hooks.POST("/github", s.handleWebhookCI("github"))
		hooks.POST("/gitlab", s.handleWebhookCI("gitlab"))
		hooks.POST("/pipeline", s.handleWebhookCI("generic"))
	})

	signIn := e.Group("/auth", s.limit("auth", s.AuthRateLimit))
	signIn.GET("/login", s.handleLogin)
	signIn.GET("/callback", s.handleCallback)
	signIn.POST("/logout", s.handleLogout)

	when(s.agent != nil, func() {
		e.Any(mcpPath, s.handleMCP)
		e.GET(resourceMetadata, s.handleResourceMetadata)
		e.GET(resourceMetadata+mcpPath, s.handleResourceMetadata)
	})

	e.GET("/healthz", s.handleHealthz)
	e.GET("/readyz", s.handleReadyz)
	e.GET("/metrics", s.handleMetrics())
	e.GET("/static/*", echo.WrapHandler(http.StripPrefix("/static/", staticHandler(static.FS))))
}

// when registers a backend's routes only when it is configured.
func when(configured bool, register func()) {
	if configured {
		register()
	}
}
