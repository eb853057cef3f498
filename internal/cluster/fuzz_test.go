package cluster

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/labels"
)

// FuzzQueryFor: any mapping annotations give a query, no mapping, or an error naming the
// annotation; a query's selector is usable.
func FuzzQueryFor(f *testing.F) {
	f.Add("payment", "", "payments")
	f.Add("", "app in (payment, ledger),tier!=cache", "")
	f.Add("", "app=", "")
	f.Add("", strings.Repeat("a", 5000), "")
	f.Fuzz(func(t *testing.T, id, selector, namespace string) {
		q, ok, err := QueryFor(map[string]string{AnnotationID: id, AnnotationSelector: selector, AnnotationNamespace: namespace})
		switch {
		case err != nil:
			if !strings.Contains(err.Error(), AnnotationSelector) && !strings.Contains(err.Error(), AnnotationID) {
				t.Fatalf("the error does not name the annotation: %v", err)
			}
		case ok:
			_ = q.Selector.Matches(labels.Set{"app": id})
			_ = q.Selector.String()
		}
	})
}
