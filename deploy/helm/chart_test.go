// Package helm tests Portico's chart with the Helm v4 Go module: lint, the values schema,
// the rendered configuration read by Portico's own loader, the RBAC against what the portal
// needs, and every rendered object sent to a real API server as a server-side dry run.
package helm

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/common/util"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/lint"
	"helm.sh/helm/v4/pkg/chart/v2/lint/support"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/engine"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"

	"github.com/portico-dev/portico/internal/config"
	"github.com/portico-dev/portico/internal/devstack"
	"github.com/portico-dev/portico/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

var update = flag.Bool("update", false, "rewrite deploy/kubernetes/portico.yaml from the chart's defaults")

const chartDir = "portico"

func load(t *testing.T) *chart.Chart {
	t.Helper()
	c, err := loader.Load(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// render renders the chart with user values (the schema checked), as an install into ns.
func render(t *testing.T, c *chart.Chart, user map[string]any, ns string, apis ...string) ([]*unstructured.Unstructured, error) {
	return renderAs(t, c, "portico", user, ns, apis...)
}

// renderAs is render with another release name.
func renderAs(t *testing.T, c *chart.Chart, release string, user map[string]any, ns string, apis ...string) ([]*unstructured.Unstructured, error) {
	t.Helper()
	caps := common.DefaultCapabilities.Copy()
	caps.APIVersions = append(slices.Clone(caps.APIVersions), apis...)
	vals, err := util.ToRenderValuesWithSchemaValidation(c, user, common.ReleaseOptions{Name: release, Namespace: ns, IsInstall: true}, caps, false)
	if err != nil {
		return nil, err
	}
	files, err := engine.Render(c, vals)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []*unstructured.Unstructured
	for _, n := range names {
		if !strings.HasSuffix(n, ".yaml") {
			continue
		}
		for _, doc := range strings.Split(files[n], "\n---") {
			if strings.TrimSpace(strings.TrimPrefix(doc, "---")) == "" {
				continue
			}
			var obj map[string]any
			if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
				t.Fatalf("%s does not render to YAML: %v\n%s", n, err, doc)
			}
			if len(obj) == 0 {
				continue
			}
			out = append(out, &unstructured.Unstructured{Object: obj})
		}
	}
	return out, nil
}

func find(objs []*unstructured.Unstructured, kind string) *unstructured.Unstructured {
	for _, o := range objs {
		if o.GetKind() == kind {
			return o
		}
	}
	return nil
}

// full turns on everything the chart can render.
func full() map[string]any {
	return map[string]any{
		"ingress":     map[string]any{"enabled": true, "className": "nginx", "host": "portico.acme.example", "tls": map[string]any{"secretName": "portico-tls"}},
		"autoscaling": map[string]any{"enabled": true},
		"clusters": []any{
			map[string]any{"name": "production", "environment": "production", "inCluster": true},
			map[string]any{"name": "staging", "environment": "staging", "kubeconfigSecret": map[string]any{"name": "portico-staging", "key": "kubeconfig"}},
		},
		"secrets": map[string]any{"githubWebhookSecrets": map[string]any{"name": "portico-webhooks", "key": "github"}},
	}
}

func TestLint(t *testing.T) {
	for _, vals := range []map[string]any{nil, full()} {
		l := lint.RunAll(chartDir, vals, "portico")
		for _, m := range l.Messages {
			if m.Severity >= support.WarningSev {
				t.Errorf("lint: %s", m)
			}
		}
	}
}

// The configuration the chart writes is one Portico loads, with the clusters and secrets
// wired as the Deployment mounts and passes them.
func TestConfigTheChartWrites(t *testing.T) {
	objs, err := render(t, load(t), full(), "portico")
	if err != nil {
		t.Fatal(err)
	}
	cm := find(objs, "ConfigMap")
	data, _, _ := unstructured.NestedString(cm.Object, "data", "portico.yaml")
	path := filepath.Join(t.TempDir(), "portico.yaml")
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	dep := find(objs, "Deployment")
	containers, _, _ := unstructured.NestedSlice(dep.Object, "spec", "template", "spec", "containers")
	c := containers[0].(map[string]any)
	env := map[string]string{}
	for _, e := range c["env"].([]any) {
		e := e.(map[string]any)
		if v, ok := e["value"].(string); ok {
			env[e["name"].(string)] = v
		} else {
			env[e["name"].(string)] = "from-secret:" + e["name"].(string) // what the kubelet would put there
		}
	}
	env["PORTICO_DATABASE_DSN"] = "host=db user=portico dbname=portico"
	for _, want := range []string{"PORTICO_DATABASE_DSN", "PORTICO_OIDC_CLIENT_SECRET", "PORTICO_SESSION_KEY", "PORTICO_GITHUB_WEBHOOK_SECRETS"} {
		if _, ok := env[want]; !ok {
			t.Errorf("the container has no %s", want)
		}
	}
	if _, ok := env["PORTICO_GITLAB_WEBHOOK_SECRETS"]; ok {
		t.Error("an unset secret reference still sets its variable")
	}
	cfg, err := config.Load(path, func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("Portico refuses the configuration the chart writes: %v\n%s", err, data)
	}
	if cfg.Database.Driver != "postgres" || len(cfg.Clusters) != 2 || !cfg.Clusters[0].InCluster ||
		cfg.Clusters[1].Kubeconfig != "/etc/portico/clusters/staging/kubeconfig" || !slices.Equal(cfg.Clusters[1].ImpersonateGroups, []string{"portico-admins", "sre-oncall"}) {
		t.Errorf("loaded: database %s, clusters %+v", cfg.Database.Driver, cfg.Clusters)
	}
	// Autoscaled, so several replicas: one leads, on a Lease in the release's namespace.
	if ha := cfg.HighAvailability; !ha.Enabled || ha.Cluster != "production" || ha.Namespace != "portico" || ha.LeaseName != "portico" {
		t.Errorf("highAvailability = %+v", ha)
	}
	for _, want := range []string{"POD_NAME", "POD_NAMESPACE"} {
		if _, ok := env[want]; !ok {
			t.Errorf("the container has no %s (the replica's name in the Lease)", want)
		}
	}
	mounts := map[string]string{}
	for _, m := range c["volumeMounts"].([]any) {
		m := m.(map[string]any)
		mounts[m["mountPath"].(string)] = m["name"].(string)
	}
	if mounts["/etc/portico/clusters/staging"] == "" || mounts["/home/portico"] == "" || mounts["/tmp"] == "" {
		t.Errorf("mounts = %v: want the staging kubeconfig, the work folder and /tmp", mounts)
	}
}

// The pod runs as the image's user, unprivileged, on a read-only root filesystem, probed on
// /healthz and /readyz.
func TestPodSecurity(t *testing.T) {
	objs, err := render(t, load(t), nil, "portico")
	if err != nil {
		t.Fatal(err)
	}
	dep := find(objs, "Deployment")
	pod, _, _ := unstructured.NestedMap(dep.Object, "spec", "template", "spec")
	if sc := pod["securityContext"].(map[string]any); sc["runAsNonRoot"] != true || sc["runAsUser"] != float64(65532) {
		t.Errorf("pod securityContext = %v", sc)
	}
	c := pod["containers"].([]any)[0].(map[string]any)
	sc := c["securityContext"].(map[string]any)
	if sc["readOnlyRootFilesystem"] != true || sc["allowPrivilegeEscalation"] != false || !reflect.DeepEqual(sc["capabilities"], map[string]any{"drop": []any{"ALL"}}) {
		t.Errorf("container securityContext = %v", sc)
	}
	for probe, path := range map[string]string{"livenessProbe": "/healthz", "readinessProbe": "/readyz"} {
		if got, _, _ := unstructured.NestedString(c, probe, "httpGet", "path"); got != path {
			t.Errorf("%s path = %q, want %s", probe, got, path)
		}
	}
	// The Go runtime knows the container's memory limit.
	memLimit := false
	for _, e := range c["env"].([]any) {
		e := e.(map[string]any)
		res, _, _ := unstructured.NestedString(e, "valueFrom", "resourceFieldRef", "resource")
		memLimit = memLimit || (e["name"] == "GOMEMLIMIT" && res == "limits.memory")
	}
	if !memLimit {
		t.Errorf("env = %v: want GOMEMLIMIT from limits.memory", c["env"])
	}
	// A stopping pod serves on until the endpoints have dropped it, then shuts down in time.
	if got, _, _ := unstructured.NestedFloat64(c, "lifecycle", "preStop", "sleep", "seconds"); got != 5 {
		t.Errorf("preStop sleep = %v s, want 5", got)
	}
	if got := pod["terminationGracePeriodSeconds"]; got != float64(30) {
		t.Errorf("terminationGracePeriodSeconds = %v, want 30 (the delay + 25 s)", got)
	}
	if find(objs, "PodDisruptionBudget") == nil || find(objs, "NetworkPolicy") == nil || find(objs, "Ingress") != nil || find(objs, "ServiceMonitor") != nil {
		t.Errorf("defaults (two replicas) render %v, want a PodDisruptionBudget and a NetworkPolicy", kinds(objs))
	}
	objs, err = render(t, load(t), map[string]any{"replicaCount": 1}, "portico")
	if err != nil || find(objs, "PodDisruptionBudget") != nil {
		t.Errorf("one replica renders %v (%v), want no PodDisruptionBudget", kinds(objs), err)
	}
	cm := find(objs, "ConfigMap")
	if data, _, _ := unstructured.NestedString(cm.Object, "data", "portico.yaml"); strings.Contains(data, "highAvailability") {
		t.Errorf("one replica elects no leader, yet its portico.yaml says:\n%s", data)
	}
}

func kinds(objs []*unstructured.Unstructured) []string {
	var out []string
	for _, o := range objs {
		out = append(out, o.GetKind()+"/"+o.GetName())
	}
	return out
}

// The ClusterRole grants what the portal needs and nothing else: the rules the local stack
// gives it (and every test runs it with), with impersonation of exactly the listed groups.
func TestRBACIsWhatPorticoNeeds(t *testing.T) {
	objs, err := render(t, load(t), map[string]any{"impersonateGroups": []any{"team-payments", "sre-oncall"}}, "portico")
	if err != nil {
		t.Fatal(err)
	}
	var role rbacv1.ClusterRole
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(find(objs, "ClusterRole").Object, &role); err != nil {
		t.Fatal(err)
	}
	want := devstack.PortalRules()
	for i := range want {
		if slices.Contains(want[i].Resources, "groups") {
			want[i].ResourceNames = []string{"team-payments", "sre-oncall"}
		}
	}
	if !reflect.DeepEqual(role.Rules, want) {
		t.Errorf("the chart's ClusterRole differs from the portal's rules:\n got %+v\nwant %+v", role.Rules, want)
	}
	for _, r := range role.Rules {
		if slices.Contains(r.Resources, "secrets") || slices.Contains(r.Verbs, "*") || slices.Contains(r.Resources, "*") {
			t.Errorf("a rule grants too much: %+v", r)
		}
	}
	roles := map[string][]rbacv1.PolicyRule{}
	for _, o := range objs {
		if o.GetKind() == "Role" {
			var r rbacv1.Role
			_ = runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &r)
			roles[r.Namespace] = r.Rules
		}
	}
	if got := roles[""]; !reflect.DeepEqual(got, devstack.LeaseRules()) {
		t.Errorf("the Role in Portico's namespace = %+v, want the portal's Lease rules %+v", got, devstack.LeaseRules())
	}
	if got := roles["kube-system"]; !reflect.DeepEqual(got, devstack.ControlPlaneRules()) {
		t.Errorf("the Role in kube-system = %+v, want the portal's control-plane rules %+v", got, devstack.ControlPlaneRules())
	}
	if len(roles) != 2 {
		t.Errorf("Roles in %d namespaces, want Portico's and kube-system", len(roles))
	}
}

// Bad values are refused, naming what is wrong: by the values schema, or by the chart itself
// where a schema message would be vague.
func TestSchemaRefusesBadValues(t *testing.T) {
	c := load(t)
	for _, tc := range []struct {
		name string
		vals map[string]any
		says string
	}{
		{"a misspelt key", map[string]any{"replicas": 3}, "replicas"},
		{"replicas as words", map[string]any{"replicaCount": "two"}, "replicaCount"},
		{"several replicas on SQLite", map[string]any{"replicaCount": 2, "config": map[string]any{"database": map[string]any{"driver": "sqlite"}}}, "driver"},
		{"a cluster both in-cluster and by kubeconfig", map[string]any{"clusters": []any{map[string]any{"name": "x", "inCluster": true,
			"kubeconfigSecret": map[string]any{"name": "k", "key": "kubeconfig"}}}}, "x needs exactly one of inCluster"},
		{"a cluster with neither", map[string]any{"clusters": []any{map[string]any{"name": "x"}}}, "x needs exactly one of inCluster"},
		{"a group pattern", map[string]any{"impersonateGroups": []any{"team-*"}}, "impersonateGroups"},
		{"an ingress without a host", map[string]any{"ingress": map[string]any{"enabled": true, "host": ""}}, "host"},
		{"a secret without its key", map[string]any{"secrets": map[string]any{"sessionKey": map[string]any{"name": "s", "key": ""}}}, "sessionKey"},
		{"clusters in the config", map[string]any{"config": map[string]any{"clusters": []any{}}}, "config.clusters is written by the chart"},
		{"replicas without the cluster they run in", map[string]any{"clusters": []any{map[string]any{"name": "staging",
			"kubeconfigSecret": map[string]any{"name": "k", "key": "kubeconfig"}}}}, "list that cluster in clusters with inCluster: true"},
	} {
		_, err := render(t, c, tc.vals, "portico")
		t.Logf("%s: %v", tc.name, err)
		if err == nil || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%s: err = %v, want one naming %q", tc.name, err, tc.says)
		}
	}
}

// Every object the chart renders, with everything turned on, is accepted by a real API
// server as a server-side dry run; the ServiceMonitor once its CRD is installed.
func TestRenderedObjectsOnARealAPIServer(t *testing.T) {
	cl := testenv.Cluster(t)
	ns := testenv.Namespace(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rc, err := clientcmd.BuildConfigFromFlags("", cl.AdminKubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	disc, err := discovery.NewDiscoveryClientForConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	installServiceMonitorCRD(ctx, t, dyn)
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disc))
	// Another release name: the test cluster's own portal identity is called portico already.
	objs, err := renderAs(t, load(t), "portico-"+ns, full(), ns, "monitoring.coreos.com/v1", "monitoring.coreos.com/v1/ServiceMonitor")
	if err != nil {
		t.Fatal(err)
	}
	if find(objs, "ServiceMonitor") == nil || find(objs, "HorizontalPodAutoscaler") == nil || find(objs, "Ingress") == nil {
		t.Fatalf("everything on renders %v", kinds(objs))
	}
	for _, o := range objs {
		gvk := o.GroupVersionKind()
		var m *metaMapping
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(500 * time.Millisecond) {
			if mm, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version); err == nil {
				m = &metaMapping{mm.Resource, mm.Scope.Name() == "namespace"}
				break
			} else if time.Now().After(deadline) {
				t.Fatalf("the API server does not serve %s: %v", gvk, err)
			}
			mapper.Reset()
		}
		var ri dynamic.ResourceInterface = dyn.Resource(m.resource)
		if m.namespaced {
			o.SetNamespace(ns)
			ri = dyn.Resource(m.resource).Namespace(ns)
		}
		if _, err := ri.Create(ctx, o, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}, FieldValidation: "Strict"}); err != nil {
			t.Errorf("%s %s: the API server refuses it: %v", gvk.Kind, o.GetName(), err)
		}
	}
}

type metaMapping struct {
	resource   schema.GroupVersionResource
	namespaced bool
}

// installServiceMonitorCRD installs a minimal ServiceMonitor CRD (the Prometheus Operator's
// group, kind and fields the chart uses) and waits until it is served.
func installServiceMonitorCRD(ctx context.Context, t *testing.T, dyn dynamic.Interface) {
	t.Helper()
	crd := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(`apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: servicemonitors.monitoring.coreos.com}
spec:
  group: monitoring.coreos.com
  scope: Namespaced
  names: {kind: ServiceMonitor, listKind: ServiceMonitorList, plural: servicemonitors, singular: servicemonitor}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              properties:
                selector: {type: object, x-kubernetes-preserve-unknown-fields: true}
                endpoints:
                  type: array
                  items:
                    type: object
                    properties:
                      port: {type: string}
                      path: {type: string}
                      interval: {type: string}
`), &crd.Object); err != nil {
		t.Fatal(err)
	}
	gvr := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	if _, err := dyn.Resource(gvr).Create(ctx, crd, metav1.CreateOptions{}); err != nil && !strings.Contains(err.Error(), "already exists") {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		got, err := dyn.Resource(gvr).Get(ctx, crd.GetName(), metav1.GetOptions{})
		if err == nil {
			conds, _, _ := unstructured.NestedSlice(got.Object, "status", "conditions")
			for _, c := range conds {
				if c := c.(map[string]any); c["type"] == "Established" && c["status"] == "True" {
					return
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the ServiceMonitor CRD was not established within 30 s")
		}
	}
}

// deploy/kubernetes/portico.yaml is the chart rendered with its defaults, for kustomize
// users; it must not drift (go test -run TestPlainManifests -update rewrites it).
func TestPlainManifests(t *testing.T) {
	objs, err := render(t, load(t), nil, "portico")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("# Portico's Helm chart rendered with its default values (release portico, namespace portico).\n# Regenerate: cd deploy/helm && go test -run TestPlainManifests -update\n")
	for _, o := range objs {
		o.SetNamespace(map[bool]string{true: "portico"}[o.GetKind() != "ClusterRole" && o.GetKind() != "ClusterRoleBinding"])
		y, err := yaml.Marshal(o.Object)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString("---\n")
		b.Write(y)
	}
	path := filepath.Join("..", "kubernetes", "portico.yaml")
	if *update {
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil || string(got) != b.String() {
		t.Errorf("%s is not the chart's rendering (%v): run cd deploy/helm && go test -run TestPlainManifests -update", path, err)
	}
}
