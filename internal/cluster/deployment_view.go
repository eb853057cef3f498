package cluster

import (
	"time"

	appsv1 "k8s.io/api/apps/v1"
)

// changeCause is the annotation kubectl and Portico record a revision's reason in.
const changeCause = "kubernetes.io/change-cause"

// DeploymentView is a Deployment as pages show it, so no Kubernetes API object has to leave
// this package for the HTTP layer.
type DeploymentView struct {
	Namespace, Name string
	Generation      int64 // the spec version a form was drawn from
	Desired         int32 // spec.replicas (1 when unset, as the API server defaults it)
	Total           int32 // status.replicas
	Containers      []string
	HPA             *AutoscalerBounds // nil without an autoscaler
	Revisions       []RevisionView    // the ReplicaSets, newest revision first as the cache keeps them
}

// AutoscalerBounds are an HPA's name and replica bounds.
type AutoscalerBounds struct {
	Name     string
	Min, Max int32
}

// RevisionView is one ReplicaSet of a Deployment.
type RevisionView struct {
	Number         int    // 0 when it has none
	Label          string // the revision annotation as written
	Name           string
	Images         []string
	ChangeCause    string
	AuditID        string // the portal's audit entry that made it, when Portico did
	Current        bool
	Created        time.Time
	Desired, Ready int32
	StatusReplicas int32
}

// View is the Deployment and its ReplicaSets as pages show them.
func (d Deployment) View(auditAnnotation string) DeploymentView {
	o := d.Object
	v := DeploymentView{Namespace: o.Namespace, Name: o.Name, Generation: o.Generation, Desired: replicasOr1(o.Spec.Replicas), Total: o.Status.Replicas}
	for _, c := range o.Spec.Template.Spec.Containers {
		v.Containers = append(v.Containers, c.Name)
	}
	if h := d.HPA; h != nil {
		v.HPA = &AutoscalerBounds{Name: h.Name, Min: 1, Max: h.Spec.MaxReplicas}
		if h.Spec.MinReplicas != nil {
			v.HPA.Min = *h.Spec.MinReplicas
		}
	}
	current := o.Annotations[RevisionAnnotation]
	for _, rs := range d.ReplicaSets {
		v.Revisions = append(v.Revisions, RevisionView{Number: Revision(rs), Label: rs.Annotations[RevisionAnnotation], Name: rs.Name,
			Images: imagesOf(rs), ChangeCause: rs.Annotations[changeCause], AuditID: rs.Annotations[auditAnnotation],
			Current: rs.Annotations[RevisionAnnotation] == current, Created: rs.CreationTimestamp.Time,
			Desired: replicasOr1(rs.Spec.Replicas), Ready: rs.Status.ReadyReplicas, StatusReplicas: rs.Status.Replicas})
	}
	return v
}

func imagesOf(rs *appsv1.ReplicaSet) []string {
	var out []string
	for _, c := range rs.Spec.Template.Spec.Containers {
		out = append(out, c.Image)
	}
	return out
}

func replicasOr1(p *int32) int32 {
	if p == nil {
		return 1
	}
	return *p
}
