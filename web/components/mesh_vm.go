package components

// MeshPanel is the runtime tab's traffic panel: routes, traffic policies, mTLS and
// authorization from the service mesh and Gateway API, per cluster.
type MeshPanel struct {
	Empty    string
	Clusters []MeshCluster
}

// MeshCluster is one cluster's mesh configuration around the component.
type MeshCluster struct {
	Name, Environment string
	Served            string // the mesh APIs the cluster serves, in words; "" for none
	Services          []string
	Routes            []MeshRouteView
	Policies          []TrafficPolicyView
	MTLS              []MTLSView
	Authz             []AuthzView
	MetricsNote       string // why the routes carry no traffic figures
}

// MeshRouteView is a route leading to the component.
type MeshRouteView struct {
	Source, Rule, Hosts, Parents, Match, Timeout, Retries string
	Extras                                                []string
	Destinations                                          []MeshDestView
}

// MeshDestView is one destination of a route with its share and traffic.
type MeshDestView struct {
	Service, Subset, Port string
	Weight                int
	Ours                  bool
	Rate, Success, P95    string // from the mesh's metrics; "" when unknown
	Failing               bool   // success under 99%
}

// TrafficPolicyView is a DestinationRule.
type TrafficPolicyView struct {
	Source, Host, OutlierDetection, LoadBalancer, TLS string
	ConnectionPool, Subsets                           []string
}

// MTLSView is an mTLS setting that applies.
type MTLSView struct {
	Source, Scope, Mode, Ports string
	Strict                     bool
}

// AuthzView is an authorization policy that applies.
type AuthzView struct {
	Source, Scope, Action string
	Rules                 []string
}
