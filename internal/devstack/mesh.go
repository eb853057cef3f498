package devstack

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

//go:embed mesh-demo.yaml
var meshDemo []byte

// MeshCRDFiles are the CRD files the stack installs for the traffic panel: the projects'
// published ones from build.sh's cache, Linkerd's and the VPA's minimal ones from deploy/crds.
func MeshCRDFiles(bins *Binaries, root string) []string {
	return []string{filepath.Join(bins.CRDs, "istio.yaml"), filepath.Join(bins.CRDs, "gateway-api-httproutes.yaml"),
		filepath.Join(bins.CRDs, "gateway-api-gateways.yaml"), filepath.Join(root, "deploy", "crds", "linkerd-crds.yaml")}
}

// extraCRDs are the scorecards' minimal CRDs the demo's mesh needs too: Linkerd's Server and
// the VerticalPodAutoscaler (Istio's PeerAuthentication comes from Istio's own file).
var extraCRDs = []string{"servers.policy.linkerd.io", "verticalpodautoscalers.autoscaling.k8s.io"}

// ReadObjects reads a multi-document YAML file of Kubernetes objects.
func ReadObjects(path string) ([]*unstructured.Unstructured, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return decodeObjects(b)
}

func decodeObjects(b []byte) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
	var out []*unstructured.Unstructured
	for {
		var u unstructured.Unstructured
		if err := dec.Decode(&u.Object); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, err
		}
		if len(u.Object) > 0 {
			out = append(out, &u)
		}
	}
}

// SeedMesh installs the mesh CRDs in the cluster and the demo's traffic configuration
// (mesh-demo.yaml). Objects that exist are left alone. It answers how many objects it made.
func SeedMesh(ctx context.Context, c *Cluster, bins *Binaries, root string) (int, error) {
	rc, err := clientcmd.BuildConfigFromFlags("", c.AdminKubeconfig)
	if err != nil {
		return 0, err
	}
	dyn, err := dynamic.NewForConfig(rc)
	if err != nil {
		return 0, err
	}
	var crds []*unstructured.Unstructured
	for _, f := range MeshCRDFiles(bins, root) {
		objs, err := ReadObjects(f)
		if err != nil {
			return 0, fmt.Errorf("mesh CRDs (run deploy/local/build.sh crds): %w", err)
		}
		crds = append(crds, objs...)
	}
	extra, err := ReadObjects(filepath.Join(root, "deploy", "crds", "scorecard-crds.yaml"))
	if err != nil {
		return 0, err
	}
	for _, o := range extra {
		for _, name := range extraCRDs {
			if o.GetName() == name {
				crds = append(crds, o)
			}
		}
	}
	crdGVR := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	for _, crd := range crds {
		if _, err := dyn.Resource(crdGVR).Create(ctx, crd, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return 0, fmt.Errorf("CRD %s: %w", crd.GetName(), err)
		}
	}
	// Linkerd meshes the messaging namespace: its pods carry the proxy and an identity.
	cs, err := c.Admin()
	if err != nil {
		return 0, err
	}
	if _, err := cs.CoreV1().Namespaces().Patch(ctx, "messaging", types.MergePatchType,
		[]byte(`{"metadata":{"annotations":{"linkerd.io/inject":"enabled"}}}`), metav1.PatchOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return 0, err
	}
	objs, err := decodeObjects(meshDemo)
	if err != nil {
		return 0, err
	}
	made := 0
	for _, o := range objs {
		gv, err := schema.ParseGroupVersion(o.GetAPIVersion())
		if err != nil {
			return made, err
		}
		gvr := gv.WithResource(plural(o.GetKind()))
		// A CRD just created is served a moment later.
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(300 * time.Millisecond) {
			_, err = dyn.Resource(gvr).Namespace(o.GetNamespace()).Create(ctx, o, metav1.CreateOptions{})
			if err == nil {
				made++
			}
			if err == nil || apierrors.IsAlreadyExists(err) {
				break
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				return made, fmt.Errorf("%s %s/%s: %w", o.GetKind(), o.GetNamespace(), o.GetName(), err)
			}
		}
	}
	return made, nil
}

// plural is the resource of the demo's kinds.
func plural(kind string) string {
	k := strings.ToLower(kind)
	if strings.HasSuffix(k, "y") {
		return strings.TrimSuffix(k, "y") + "ies"
	}
	return k + "s"
}

// autoscalerStatus is what a cluster autoscaler (1.30 and later) writes into its status
// ConfigMap: the demo's production cluster has two node groups, one scaling up.
const autoscalerStatus = `time: %s
autoscalerStatus: Running
clusterWide:
  health:
    status: Healthy
    nodeCounts:
      registered: {total: 3, ready: 3, notStarted: 0}
      longUnregistered: 0
      unregistered: 0
  scaleUp:
    status: InProgress
    lastTransitionTime: "%s"
  scaleDown:
    status: NoCandidates
nodeGroups:
- name: general-purpose
  health: {status: Healthy, nodeCounts: {registered: {total: 2, ready: 2}}, cloudProviderTarget: 3, minSize: 2, maxSize: 10}
  scaleUp: {status: InProgress, lastTransitionTime: "%s"}
  scaleDown: {status: NoCandidates}
- name: memory-optimized
  health: {status: Healthy, nodeCounts: {registered: {total: 1, ready: 1}}, cloudProviderTarget: 1, minSize: 1, maxSize: 4}
  scaleUp: {status: NoActivity}
  scaleDown: {status: NoCandidates}
`

// SeedAutoscalerStatus writes a cluster autoscaler's status ConfigMap and the scale-up event
// it records on it, as the autoscaler would (kwok clusters run none).
func SeedAutoscalerStatus(ctx context.Context, cs kubernetes.Interface, now time.Time) error {
	at := now.UTC().Format(time.RFC3339)
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cluster-autoscaler-status", Namespace: "kube-system"},
		Data: map[string]string{"status": fmt.Sprintf(autoscalerStatus, now.UTC().Format("2006-01-02 15:04:05.999999999 -0700 MST"), at, at)}}
	created, err := cs.CoreV1().ConfigMaps("kube-system").Create(ctx, cm, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	if err != nil {
		return err
	}
	ev := &corev1.Event{ObjectMeta: metav1.ObjectMeta{GenerateName: "cluster-autoscaler-status.", Namespace: "kube-system"},
		InvolvedObject: corev1.ObjectReference{Kind: "ConfigMap", Namespace: "kube-system", Name: cm.Name, UID: created.UID, APIVersion: "v1"},
		Reason:         "ScaledUpGroup", Message: "Scale-up: setting group general-purpose size to 3 instead of 2 (max: 10)", Type: corev1.EventTypeNormal,
		FirstTimestamp: metav1.NewTime(now), LastTimestamp: metav1.NewTime(now), Count: 1, Source: corev1.EventSource{Component: "cluster-autoscaler"}}
	_, err = cs.CoreV1().Events("kube-system").Create(ctx, ev, metav1.CreateOptions{})
	return err
}
