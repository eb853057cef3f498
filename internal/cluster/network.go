package cluster

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/portico-dev/portico/internal/reach"
)

// Component is a catalog component mapped to clusters, as the cluster-wide views need it.
type Component struct {
	Ref       string
	Name      string // how people call it
	Query     Query
	DependsOn []string // refs of the components it declares it calls (for network reach)
}

// ClusterReach is the network reach computed in one cluster.
type ClusterReach struct {
	Cluster, Environment string
	Reachability         Reachability
	Graph                *reach.Graph
	Policies             int // NetworkPolicies in the cluster
}

// Reach computes, in every cluster q allows, the reach of the components from the caches:
// each component's workloads (their pod templates' labels and namespace), the cluster's
// NetworkPolicies and its namespaces' labels.
func (m *Manager) Reach(comps []Component, only string) []ClusterReach {
	var out []ClusterReach
	for _, c := range m.clusters {
		if only != "" && only != c.Name {
			continue
		}
		in := c.reachInput(comps)
		out = append(out, ClusterReach{Cluster: c.Name, Environment: c.Environment,
			Reachability: c.Reachability(), Graph: reach.Compute(in), Policies: len(in.Policies)})
	}
	return out
}

// reachInput reads the caches; the objects stay shared with them: read only.
func (c *Cluster) reachInput(comps []Component) reach.Input {
	var in reach.Input
	for _, comp := range comps {
		for _, w := range c.workloadsOf(comp.Query) {
			in.Services = append(in.Services, reach.Service{Ref: comp.Ref, Name: comp.Name, Workload: w.kind + " " + w.name, Namespace: w.namespace,
				Labels: w.template.Labels, DependsOn: comp.DependsOn})
		}
	}
	for _, obj := range c.idx.netpols.GetStore().List() {
		in.Policies = append(in.Policies, obj.(*networkingv1.NetworkPolicy))
	}
	in.Namespaces = map[string]map[string]string{}
	for _, obj := range c.idx.namespaces.GetStore().List() {
		ns := obj.(*corev1.Namespace)
		in.Namespaces[ns.Name] = ns.Labels
	}
	return in
}

// workloadRef is one of a component's workloads, shared with the caches: read only.
type workloadRef struct {
	kind, namespace, name string
	template              *corev1.PodTemplateSpec
}

// workloadsOf lists the Deployments, StatefulSets and DaemonSets q selects in this cluster
// (none when q names another cluster).
func (c *Cluster) workloadsOf(q Query) []workloadRef {
	if q.Selector == nil || (q.Cluster != "" && q.Cluster != c.Name) {
		return nil
	}
	var out []workloadRef
	for _, obj := range selectObjects(c.idx.deployments, q.Namespace, q.Selector) {
		d := obj.(*appsv1.Deployment)
		out = append(out, workloadRef{"Deployment", d.Namespace, d.Name, &d.Spec.Template})
	}
	for _, obj := range selectObjects(c.idx.statefulSets, q.Namespace, q.Selector) {
		s := obj.(*appsv1.StatefulSet)
		out = append(out, workloadRef{"StatefulSet", s.Namespace, s.Name, &s.Spec.Template})
	}
	for _, obj := range selectObjects(c.idx.daemonSets, q.Namespace, q.Selector) {
		d := obj.(*appsv1.DaemonSet)
		out = append(out, workloadRef{"DaemonSet", d.Namespace, d.Name, &d.Spec.Template})
	}
	return out
}
