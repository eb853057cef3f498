package components

// ClusterPage is one cluster's page: its control plane, nodes, namespaces and recent
// Warning events.
type ClusterPage struct {
	Name, DisplayName, Environment, Version string
	Reachability                            string
	OK                                      bool
	Error                                   string // unreachable, or not synced yet
	Stale                                   string // "stale since …" when the caches may be behind
	APIServerURL                            string // the API server charts' panel; "" without Prometheus
	Live                                    ClusterLive
}

// ClusterLive is the part of the cluster page that reloads itself.
type ClusterLive struct {
	URL          string
	ControlPlane HealthBadge
	Checks       []CheckRow
	ChecksFailed int
	ChecksError  string
	CheckedAgo   string
	Leases       []LeaseRow
	LeasesError  string
	Nodes        []NodeRow
	NodesReady   int
	Cordoned     int
	Pods         int
	Events       []EventRow
	Namespaces   []NamespaceRow
	Autoscaler   *AutoscalerStatus // the cluster autoscaler's status, when it runs
}

// CheckRow is one of the API server's health checks.
type CheckRow struct {
	Endpoint, Name, Message string
	OK                      bool
}

// LeaseRow is a leader-elected component's Lease.
type LeaseRow struct {
	Component, Holder, State, Renewed, Duration string
	Transitions                                 int32
}

// NodeRow is a node in the cluster page's table, and the head of its own page.
type NodeRow struct {
	Name, Href  string
	Health      HealthBadge
	Problems    []string
	Cordoned    bool
	Taints      []string
	Roles       []string
	Kubelet     string
	CPU, Memory Usage
	Pods        string // "12 / 110"
	Age         string
}

// Usage is requested against allocatable, as words and a bar.
type Usage struct {
	Text    string
	Percent int
}

// EventRow is a Warning event.
type EventRow struct {
	Object, Namespace, Reason, Message, Ago string
	Count                                   int32
}

// Where is the event's object, namespace first when it has one.
func (e EventRow) Where() string {
	if e.Namespace != "" {
		return e.Namespace + "/" + e.Object
	}
	return e.Object
}

// NamespaceRow is a namespace with the catalog services running in it.
type NamespaceRow struct {
	Name, Phase string
	Pods        int
	Services    []Link
	Hidden      int // services there the user may not view
}

// AutoscalerStatus is the cluster autoscaler's own status report.
type AutoscalerStatus struct {
	Health     HealthBadge
	Updated    string
	NodeGroups []AutoscalerGroup
	Recent     []Field // recent scale-ups and scale-downs
	Raw        string  // the report as written, when it could not be read
}

// AutoscalerGroup is one node group as the autoscaler sees it.
type AutoscalerGroup struct {
	Name, Health, Ready, Size, ScaleUp, ScaleDown string
}

// NodePage is one node's page.
type NodePage struct {
	Cluster     Link
	Environment string
	Production  bool
	Node        NodeRow
	Conditions  []ConditionRow
	Addresses   []string
	OS, Runtime string
	Labels      []string
	Pods        []NodePodRow
	HiddenPods  int // pods of services the user may not view
	Events      []EventRow
	CordonAudit Link // the audit entry of the portal's last cordon or uncordon
	Action      NodeAction
	CSRF        string
	Flash       *Flash
}

// ConditionRow is one of a node's conditions.
type ConditionRow struct {
	Type, Status, Reason, Message, Since string
	Bad                                  bool
}

// NodePodRow is a pod on the node.
type NodePodRow struct {
	Namespace, Name, Owner, Phase, Reason, CPU, Memory string
	Ready                                              bool
	Restarts                                           int32
	Service                                            Link
}

// NodeAction is the cordon or uncordon form.
type NodeAction struct {
	Name, Verb, Post     string // cordon/uncordon, its button, where the form goes
	Allowed              bool
	Why                  string // why not, when not allowed
	NeedReason, NeedName bool
	Key                  string // one-time key: submitting the form twice acts once
}
