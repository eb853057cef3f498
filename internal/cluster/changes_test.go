package cluster

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// keepLastWrite may see an object twice: the second pass, with the managed fields gone,
// keeps the time the first found, and no pass keeps an annotation's copy of the values.
func TestKeepLastWrite(t *testing.T) {
	at := metav1.NewTime(time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC))
	m := &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Name: "c",
		Annotations:   map[string]string{"kubectl.kubernetes.io/last-applied-configuration": `{"data":{"password":"x"}}`},
		ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "a", Time: &metav1.Time{Time: at.Add(-time.Hour)}}, {Manager: "b", Time: &at}}}}
	for pass := 1; pass <= 2; pass++ {
		obj, _ := keepLastWrite(m)
		m = obj.(*metav1.PartialObjectMetadata)
		if got := m.Annotations[lastWriteAnnotation]; got != "2026-12-01T03:00:00Z" || len(m.Annotations) != 1 || m.ManagedFields != nil {
			t.Errorf("pass %d: annotations %v, managed fields %v", pass, m.Annotations, m.ManagedFields)
		}
	}
}
