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
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/restmapper"
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
	return DecodeObjects(b)
}

// DecodeObjects reads a multi-document YAML (or JSON) of Kubernetes objects.
func DecodeObjects(b []byte) ([]*unstructured.Unstructured, error) {
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

// MeshCRDs are the CRDs the demo's traffic configuration needs (MeshCRDFiles, and the
// scorecards' minimal Server and VerticalPodAutoscaler).
func MeshCRDs(bins *Binaries, root string) ([]*unstructured.Unstructured, error) {
	var crds []*unstructured.Unstructured
	for _, f := range MeshCRDFiles(bins, root) {
		objs, err := ReadObjects(f)
		if err != nil {
			return nil, fmt.Errorf("mesh CRDs (run deploy/local/build.sh crds): %w", err)
		}
		crds = append(crds, objs...)
	}
	extra, err := ReadObjects(filepath.Join(root, "deploy", "crds", "scorecard-crds.yaml"))
	if err != nil {
		return nil, err
	}
	for _, o := range extra {
		if slices.Contains(extraCRDs, o.GetName()) {
			crds = append(crds, o)
		}
	}
	return crds, nil
}

// SeedMesh installs the mesh CRDs in the cluster and the demo's traffic configuration
// (mesh-demo.yaml). Objects that exist are left alone. It answers how many objects it made.
func SeedMesh(ctx context.Context, c *Cluster, bins *Binaries, root string) (int, error) {
	crds, err := MeshCRDs(bins, root)
	if err != nil {
		return 0, err
	}
	if _, err := Apply(ctx, c.AdminKubeconfig, crds); err != nil {
		return 0, err
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
	objs, err := DecodeObjects(meshDemo)
	if err != nil {
		return 0, err
	}
	return Apply(ctx, c.AdminKubeconfig, objs)
}

// Apply creates each object as the kubeconfig's user, leaving alone those that exist, and
// answers how many it made. Kinds map to resources through discovery, asked again while a
// CRD just created is not served yet (for up to 30 s).
func Apply(ctx context.Context, kubeconfig string, objs []*unstructured.Unstructured) (int, error) {
	rc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return 0, err
	}
	dyn, err := dynamic.NewForConfig(rc)
	if err != nil {
		return 0, err
	}
	disc, err := discovery.NewDiscoveryClientForConfig(rc)
	if err != nil {
		return 0, err
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disc))
	made := 0
	for _, o := range objs {
		gvk := o.GroupVersionKind()
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(300 * time.Millisecond) {
			m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
			if err == nil {
				r := dyn.Resource(m.Resource)
				if m.Scope.Name() == meta.RESTScopeNameNamespace {
					_, err = r.Namespace(o.GetNamespace()).Create(ctx, o, metav1.CreateOptions{})
				} else {
					_, err = r.Create(ctx, o, metav1.CreateOptions{})
				}
				if err == nil {
					made++
				}
				if err == nil || apierrors.IsAlreadyExists(err) {
					break
				}
			} else if meta.IsNoMatchError(err) {
				mapper.Reset()
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				return made, fmt.Errorf("%s %s/%s: %w", o.GetKind(), o.GetNamespace(), o.GetName(), err)
			}
		}
	}
	return made, nil
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
