package cluster

import (
	"fmt"

	"k8s.io/apimachinery/pkg/labels"
)

// Annotations that map a catalog component to its workloads (Backstage's Kubernetes plugin).
const (
	AnnotationID        = "backstage.io/kubernetes-id"
	AnnotationSelector  = "backstage.io/kubernetes-label-selector"
	AnnotationNamespace = "backstage.io/kubernetes-namespace"
	AnnotationCluster   = "backstage.io/kubernetes-cluster"
)

// Query is where a component's objects are: a label selector, optionally one namespace and
// one cluster.
type Query struct {
	Selector     labels.Selector
	SelectorText string
	Namespace    string
	Cluster      string
}

// maxSelector bounds a label selector annotation (Kubernetes' own are far shorter).
const maxSelector = 4096

// QueryFor reads the mapping annotations. A label selector wins over kubernetes-id; without
// either the component is not mapped (ok is false).
func QueryFor(annotations map[string]string) (q Query, ok bool, err error) {
	q.Namespace, q.Cluster = annotations[AnnotationNamespace], annotations[AnnotationCluster]
	from := AnnotationSelector // the annotation the selector comes from, for the errors
	switch {
	case annotations[AnnotationSelector] != "":
		q.SelectorText = annotations[AnnotationSelector]
	case annotations[AnnotationID] != "":
		from, q.SelectorText = AnnotationID, AnnotationID+"="+annotations[AnnotationID]
	default:
		return q, false, nil
	}
	if len(q.SelectorText) > maxSelector {
		return q, true, fmt.Errorf("%s is %d characters long, over the limit of %d", from, len(q.SelectorText), maxSelector)
	}
	sel, err := labels.Parse(q.SelectorText)
	if err != nil {
		return q, true, fmt.Errorf("%s %q is not a valid label selector: %v", from, q.SelectorText, err)
	}
	if sel.Empty() {
		// (Found by fuzzing: a blank selector was reported without naming the annotation.)
		return q, true, fmt.Errorf("%s %q selects everything; name the component's labels", from, q.SelectorText)
	}
	q.Selector = sel
	return q, true, nil
}
