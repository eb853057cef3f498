package rollout

import (
	"context"
	"encoding/json"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// SetUnschedulable cordons (true) or uncordons (false) a node, as kubectl does, putting
// annotations on it in the same patch. It answers the node's state after the change.
func SetUnschedulable(ctx context.Context, cs kubernetes.Interface, node string, unschedulable bool, annotations map[string]string) (bool, error) {
	patch, _ := json.Marshal(map[string]any{
		"metadata": map[string]any{"annotations": annotations},
		"spec":     map[string]any{"unschedulable": unschedulable},
	})
	verb := "uncordon"
	if unschedulable {
		verb = "cordon"
	}
	n, err := cs.CoreV1().Nodes().Patch(ctx, node, types.StrategicMergePatchType, patch, metav1.PatchOptions{FieldManager: FieldManager})
	if err != nil {
		return false, kubeError(err, fmt.Sprintf("%s node %s", verb, node))
	}
	return n.Spec.Unschedulable, nil
}
