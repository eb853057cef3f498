package components

// AutoscalingPanel is the runtime tab's autoscaling panel: each cluster's HPAs and VPAs.
type AutoscalingPanel struct {
	Empty    string
	Clusters []AutoscalingCluster
}

// AutoscalingCluster is one cluster's autoscalers of the component.
type AutoscalingCluster struct {
	Name, Environment string
	HPAs              []HPAView
	VPAs              []VPAView
	VPANote           string // why no VPA is shown
}

// HPAView is a HorizontalPodAutoscaler.
type HPAView struct {
	Name, Target, Replicas, Bounds, LastScale string
	AtMax                                     bool
	Metrics                                   []HPAMetricRow
	Behavior                                  []string
	Conditions                                []ConditionRow
	Timeline                                  *Chart // the sizes it set over time; nil when it has not scaled
	Events                                    []EventRow
}

// HPAMetricRow is a metric's current value against its target.
type HPAMetricRow struct {
	Name, Current, Target string
}

// VPAView is a VerticalPodAutoscaler's recommendation per container.
type VPAView struct {
	Name, Target, Mode, Problem string
	Containers                  []VPAContainerRow
}

// VPAContainerRow is one container's recommendation against its requests.
type VPAContainerRow struct {
	Name                                      string
	CPURequest, CPULower, CPUTarget, CPUUpper string
	MemRequest, MemLower, MemTarget, MemUpper string
	Verdicts                                  []string
	Off                                       bool // a request outside the bounds
}
