package components

// NetworkPanel is a component's network reach, from the NetworkPolicies of each cluster
// where it runs.
type NetworkPanel struct {
	Clusters []NetworkCluster
	Empty    string // shown when it runs in no configured cluster
}

// NetworkCluster is the reach in one cluster.
type NetworkCluster struct {
	Name, Environment string
	Stale             bool // the cluster is unreachable: its last known state
	Policies          int  // NetworkPolicies in the cluster
	IngressPolicies   []string
	EgressPolicies    []string
	Callers, Callees  []Link
	Admits, Allows    []NetworkRule
	Blocked           []NetworkBlock
}

// NetworkRule is one policy rule in words.
type NetworkRule struct {
	Policy, Peers, Ports string
	Services             []Link
}

// NetworkBlock is a declared dependency the policies refuse.
type NetworkBlock struct {
	From, To Link
	Why      string
}
