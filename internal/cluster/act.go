package cluster

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
)

// Identity is a signed-in user as Kubernetes sees them when the portal acts for them.
type Identity struct {
	User   string
	Groups []string
}

// As returns a client that impersonates id, so the API server's RBAC judges the user's own
// rights. Its requests are bounded like the portal's own (bounded, in New's transport). Groups the cluster is not configured to pass on are dropped.
func (c *Cluster) As(id Identity) (kubernetes.Interface, error) {
	if c.rest == nil {
		return nil, fmt.Errorf("cluster %s: no client configuration to impersonate with", c.Name)
	}
	rc := rest.CopyConfig(c.rest)
	rc.Impersonate = rest.ImpersonationConfig{UserName: id.User, Groups: c.PassedGroups(id.Groups)}
	return kubernetes.NewForConfig(rc)
}

// PassedGroups are the groups of a user the portal passes on to this cluster.
func (c *Cluster) PassedGroups(groups []string) []string {
	if len(c.ImpersonateGroups) == 0 {
		return slices.Clone(groups)
	}
	var out []string
	for _, g := range groups {
		for _, pat := range c.ImpersonateGroups {
			if ok, _ := path.Match(pat, g); ok {
				out = append(out, g)
				break
			}
		}
	}
	return out
}

// Client is the portal's own client: for access reviews, never for users' changes.
func (c *Cluster) Client() kubernetes.Interface { return c.client }

// Cluster returns the named cluster, or nil.
func (m *Manager) Cluster(name string) *Cluster { return m.cluster(name) }

// Deployment is a cached Deployment with its ReplicaSets (newest revision first) and the
// autoscaler that targets it, if any. The objects are shared with the cache: read only.
type Deployment struct {
	Object      *appsv1.Deployment
	ReplicaSets []*appsv1.ReplicaSet
	HPA         *autoscalingv2.HorizontalPodAutoscaler
}

// Observe shows the named Deployment as the cluster's caches hold it now: found is false when
// it or the cluster is gone; an error says the caches are not synced yet.
func (m *Manager) Observe(_ context.Context, clusterName, namespace, name string) (Deployment, bool, error) {
	c := m.Cluster(clusterName)
	if c == nil {
		return Deployment{}, false, nil
	}
	if !c.Synced() {
		return Deployment{}, false, fmt.Errorf("cluster %s: caches not synced yet", clusterName)
	}
	d, ok := c.Deployment(Query{Selector: labels.Everything()}, namespace, name)
	return d, ok, nil
}

// Deployment finds the named Deployment among the objects q selects in this cluster; a
// Deployment the component does not select is not found, so a page for one component cannot
// act on another's workloads.
func (c *Cluster) Deployment(q Query, namespace, name string) (Deployment, bool) {
	if q.Cluster != "" && q.Cluster != c.Name {
		return Deployment{}, false
	}
	if q.Namespace != "" && namespace != q.Namespace {
		return Deployment{}, false
	}
	obj, ok, _ := c.idx.deployments.GetIndexer().GetByKey(namespace + "/" + name)
	if !ok {
		return Deployment{}, false
	}
	d := obj.(*appsv1.Deployment)
	if !q.Selector.Matches(labels.Set(d.Labels)) {
		return Deployment{}, false
	}
	out := Deployment{Object: d}
	for _, rs := range byOwner(c.idx.replicaSets, string(d.UID)) {
		out.ReplicaSets = append(out.ReplicaSets, rs.(*appsv1.ReplicaSet))
	}
	slices.SortFunc(out.ReplicaSets, func(a, b *appsv1.ReplicaSet) int { return Revision(b) - Revision(a) })
	hpas, _ := c.idx.hpas.GetIndexer().ByIndex(cache.NamespaceIndex, namespace)
	for _, obj := range hpas {
		h := obj.(*autoscalingv2.HorizontalPodAutoscaler)
		if h.Spec.ScaleTargetRef.Kind == "Deployment" && h.Spec.ScaleTargetRef.Name == name {
			out.HPA = h
		}
	}
	return out, true
}

// RevisionAnnotation is where the Deployment controller numbers ReplicaSets.
const RevisionAnnotation = "deployment.kubernetes.io/revision"

// Revision is a ReplicaSet's revision number, 0 when it has none.
func Revision(rs *appsv1.ReplicaSet) int {
	n, _ := strconv.Atoi(rs.Annotations[RevisionAnnotation])
	return n
}
