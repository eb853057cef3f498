package components

// Runtime is the live runtime panel of a component.
type Runtime struct {
	Mapped   bool   // the component names its workloads (kubernetes annotations)
	Selector string // the label selector used
	Error    string // a mapping annotation that cannot be used
	Health   HealthBadge
	Clusters []ClusterRuntime
	Refresh  string // URL the panel reloads from
}

// HealthBadge is a health verdict for display.
type HealthBadge struct {
	Level  string // healthy, progressing, degraded, down, unknown
	Reason string
}

// Clusters is the clusters page.
type Clusters struct {
	Clusters []ClusterCard
}
