package devstack

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"

	"github.com/portico-dev/portico/internal/catalog"
)

// demoWorkload is how one catalog service runs in the demo clusters. Some deliberately lack
// probes, limits, a PodDisruptionBudget or a NetworkPolicy, as real estates do.
type demoWorkload struct {
	replicas         int32
	hpaMin, hpaMax   int32 // 0: no HorizontalPodAutoscaler
	probes, limits   bool
	pdb, netpol      bool
	host             string // Ingress host, if public
	versions         []string
	cpu, memory      string
	cpuLim, memLimit string
}

var demoWorkloads = map[string]demoWorkload{
	"gateway":        {replicas: 4, hpaMin: 4, hpaMax: 20, probes: true, limits: true, pdb: true, netpol: true, host: "api.acme.example", versions: []string{"2.13.0", "2.14.0", "2.14.1"}, cpu: "500m", memory: "256Mi", cpuLim: "2", memLimit: "512Mi"},
	"authentication": {replicas: 3, hpaMin: 3, hpaMax: 10, probes: true, limits: true, pdb: true, netpol: true, versions: []string{"3.8.2", "3.9.0", "3.9.1"}, cpu: "250m", memory: "256Mi", cpuLim: "1", memLimit: "512Mi"},
	"user-profile":   {replicas: 2, probes: true, versions: []string{"1.21.0", "1.22.0"}, cpu: "250m", memory: "768Mi"},
	"payment":        {replicas: 3, hpaMin: 3, hpaMax: 10, probes: true, limits: true, pdb: true, netpol: true, versions: []string{"5.2.0", "5.3.0", "5.3.1", "5.4.0"}, cpu: "500m", memory: "1Gi", cpuLim: "2", memLimit: "2Gi"},
	"pricing":        {replicas: 2, hpaMin: 2, hpaMax: 6, probes: true, limits: true, pdb: true, versions: []string{"4.0.3", "4.1.0"}, cpu: "250m", memory: "128Mi", cpuLim: "1", memLimit: "256Mi"},
	"notification":   {replicas: 2, limits: true, netpol: true, versions: []string{"2.6.0", "2.7.0", "2.7.2"}, cpu: "100m", memory: "128Mi", cpuLim: "500m", memLimit: "256Mi"},
	"maps":           {replicas: 2, probes: true, limits: true, host: "maps.acme.example", versions: []string{"0.18.0", "0.19.0"}, cpu: "500m", memory: "512Mi", cpuLim: "2", memLimit: "1Gi"},
	"search":         {replicas: 3, hpaMin: 3, hpaMax: 12, probes: true, limits: true, pdb: true, versions: []string{"7.1.0", "7.2.0", "7.2.3"}, cpu: "1", memory: "2Gi", cpuLim: "2", memLimit: "3Gi"},
	"analytics":      {replicas: 1, versions: []string{"0.9.0", "0.9.1"}, cpu: "100m", memory: "256Mi"},
	"web-storefront": {replicas: 3, hpaMin: 3, hpaMax: 15, probes: true, limits: true, pdb: true, host: "www.acme.example", versions: []string{"12.40.0", "12.41.0", "12.42.0"}, cpu: "250m", memory: "256Mi", cpuLim: "1", memLimit: "512Mi"},
}

// DemoOptions shape a cluster's demo estate.
type DemoOptions struct {
	// Staging runs one replica of each service, one version ahead, without autoscalers.
	Staging bool
	// Only limits the services created (all of the catalog's when empty).
	Only []string
}

// SeedDemo creates, for every catalog component with Kubernetes annotations, its team's
// namespace, a Deployment with a rollout history of a few revisions, a Service, and where the
// service has them an Ingress, an HPA, a PodDisruptionBudget and a NetworkPolicy. Objects that
// exist are left alone, so seeding a running cluster again changes nothing.
func SeedDemo(ctx context.Context, cs kubernetes.Interface, catalogDir string, opt DemoOptions) ([]string, error) {
	services, err := catalogServices(catalogDir)
	if err != nil {
		return nil, err
	}
	if err := SeedRBAC(ctx, cs, catalogDir); err != nil {
		return nil, fmt.Errorf("demo RBAC: %w", err)
	}
	// Services are independent: seed them side by side (the release history dominates).
	var (
		mu     sync.Mutex
		wg     sync.WaitGroup
		seeded []string
		errs   []error
	)
	for _, s := range services {
		w, ok := demoWorkloads[s.name]
		if !ok || (len(opt.Only) > 0 && !slices.Contains(opt.Only, s.name)) {
			continue
		}
		if opt.Staging {
			w.replicas, w.hpaMin, w.hpaMax = 1, 0, 0
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := seedService(ctx, cs, s, w, opt.Staging)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", s.name, err))
				return
			}
			seeded = append(seeded, s.namespace+"/"+s.name)
		}()
	}
	wg.Wait()
	sort.Strings(seeded)
	return seeded, errors.Join(errs...)
}

type catalogService struct{ name, namespace, system, owner string }

// catalogServices reads the components that declare where they run.
func catalogServices(dir string) ([]catalogService, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("open catalog: %w", err)
	}
	defer root.Close()
	rd := (&catalog.Reader{Source: "demo", Location: "file:" + dir, FS: root.FS(), Patterns: []string{"**/*.yaml"}}).Read()
	var out []catalogService
	for _, r := range rd.Records {
		e := r.Entity
		id, ns := e.Metadata.Annotations[catalog.AnnotationKubernetesID], e.Metadata.Annotations[catalog.AnnotationKubeNamespace]
		if strings.EqualFold(e.Kind, catalog.KindComponent) && id != "" && ns != "" {
			out = append(out, catalogService{name: id, namespace: ns, system: e.SpecString("system"), owner: strings.TrimPrefix(e.SpecString("owner"), "group:")})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, nil
}

func seedService(ctx context.Context, cs kubernetes.Interface, s catalogService, w demoWorkload, staging bool) error {
	if err := CreateNamespace(ctx, cs, s.namespace); err != nil {
		return err
	}
	apps := cs.AppsV1().Deployments(s.namespace)
	if _, err := apps.Get(ctx, s.name, metav1.GetOptions{}); err == nil {
		return nil // seeded before
	}
	versions := w.versions
	if staging { // staging runs what production will run next
		versions = append(append([]string{}, versions...), nextPatch(versions[len(versions)-1]))
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: ConfigMapName(s.name), Labels: map[string]string{"app.kubernetes.io/name": s.name}},
		Data: map[string]string{"DB_POOL_SIZE": "20", "UPSTREAM_TIMEOUT_MS": "1000", "FEATURE_FLAGS": "new-checkout=off"}}
	if _, err := cs.CoreV1().ConfigMaps(s.namespace).Create(ctx, cm, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	d := demoDeployment(s, w, versions[0])
	if _, err := apps.Create(ctx, d, metav1.CreateOptions{}); err != nil {
		return err
	}
	// A rollout history: each release waits for the controller to see the previous one, so
	// every version gets its own ReplicaSet revision.
	for i, v := range versions[1:] {
		if err := waitObserved(ctx, cs, s.namespace, s.name); err != nil {
			return err
		}
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			cur, err := apps.Get(ctx, s.name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			setVersion(cur, s.name, v, fmt.Sprintf("release %s (deploy #%d by ci)", v, 100+i*7))
			_, err = apps.Update(ctx, cur, metav1.UpdateOptions{})
			return err
		})
		if err != nil {
			return err
		}
	}
	return createExtras(ctx, cs, s, w)
}

func waitObserved(ctx context.Context, cs kubernetes.Interface, ns, name string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		d, err := cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err == nil && d.Status.ObservedGeneration >= d.Generation && d.Annotations["deployment.kubernetes.io/revision"] != "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("deployment %s/%s not observed by the controller: %w", ns, name, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func labelsFor(s catalogService, version string) map[string]string {
	return map[string]string{
		"app.kubernetes.io/name": s.name, "backstage.io/kubernetes-id": s.name,
		"app.kubernetes.io/part-of": s.system, "app.kubernetes.io/version": version,
	}
}

// ConfigMapName is the demo service's settings, read into its environment. The demo traffic
// fails most of a service's requests while it sets DB_POOL_SIZE to 0: a config push that
// breaks a service without any new release.
func ConfigMapName(service string) string { return service + "-config" }

func demoDeployment(s catalogService, w demoWorkload, version string) *appsv1.Deployment {
	sel := map[string]string{"app.kubernetes.io/name": s.name}
	c := corev1.Container{
		Name: s.name, Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
		Env:       []corev1.EnvVar{{Name: "OTEL_SERVICE_NAME", Value: s.name}, {Name: "LOG_LEVEL", Value: "info"}},
		EnvFrom:   []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: ConfigMapName(s.name)}}}},
		Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(w.cpu), corev1.ResourceMemory: resource.MustParse(w.memory)}},
	}
	if w.limits {
		c.Resources.Limits = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(w.cpuLim), corev1.ResourceMemory: resource.MustParse(w.memLimit)}
	}
	if w.probes {
		c.ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/readyz", Port: intstr.FromString("http")}}, PeriodSeconds: 5}
		c.LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromString("http")}}, PeriodSeconds: 10, FailureThreshold: 3}
	}
	maxSurge, maxUnavail := intstr.FromString("25%"), intstr.FromInt32(0)
	progress := int32(120)
	history := int32(10)
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: s.name, Labels: labelsFor(s, version)},
		Spec: appsv1.DeploymentSpec{
			Replicas: &w.replicas, Selector: &metav1.LabelSelector{MatchLabels: sel},
			ProgressDeadlineSeconds: &progress, RevisionHistoryLimit: &history,
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: &maxSurge, MaxUnavailable: &maxUnavail}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labelsFor(s, version)},
				Spec: corev1.PodSpec{Containers: []corev1.Container{c}}},
		},
	}
	setVersion(d, s.name, version, "initial release "+version)
	return d
}

func setVersion(d *appsv1.Deployment, name, version, cause string) {
	d.Spec.Template.Spec.Containers[0].Image = "registry.acme.example/" + name + ":" + version
	d.Spec.Template.Labels["app.kubernetes.io/version"] = version
	d.Labels["app.kubernetes.io/version"] = version
	if d.Annotations == nil {
		d.Annotations = map[string]string{}
	}
	d.Annotations["kubernetes.io/change-cause"] = cause
	d.Spec.Template.Annotations = map[string]string{"kubernetes.io/change-cause": cause}
}

func nextPatch(v string) string {
	parts := strings.Split(v, ".")
	var n int
	fmt.Sscan(parts[len(parts)-1], &n)
	parts[len(parts)-1] = fmt.Sprint(n + 1)
	return strings.Join(parts, ".")
}

func createExtras(ctx context.Context, cs kubernetes.Interface, s catalogService, w demoWorkload) error {
	sel := map[string]string{"app.kubernetes.io/name": s.name}
	meta := metav1.ObjectMeta{Name: s.name, Labels: map[string]string{"app.kubernetes.io/name": s.name, "backstage.io/kubernetes-id": s.name}}
	svc := &corev1.Service{ObjectMeta: meta, Spec: corev1.ServiceSpec{Selector: sel,
		Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}}}}
	if err := ensure(ctx, func() error {
		_, err := cs.CoreV1().Services(s.namespace).Create(ctx, svc, metav1.CreateOptions{})
		return err
	}); err != nil {
		return err
	}
	if w.host != "" {
		pt := networkingv1.PathTypePrefix
		ing := &networkingv1.Ingress{ObjectMeta: meta, Spec: networkingv1.IngressSpec{
			TLS: []networkingv1.IngressTLS{{Hosts: []string{w.host}, SecretName: s.name + "-tls"}},
			Rules: []networkingv1.IngressRule{{Host: w.host, IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
				Paths: []networkingv1.HTTPIngressPath{{Path: "/", PathType: &pt, Backend: networkingv1.IngressBackend{
					Service: &networkingv1.IngressServiceBackend{Name: s.name, Port: networkingv1.ServiceBackendPort{Name: "http"}}}}}}}}}}}
		if err := ensure(ctx, func() error {
			_, err := cs.NetworkingV1().Ingresses(s.namespace).Create(ctx, ing, metav1.CreateOptions{})
			return err
		}); err != nil {
			return err
		}
	}
	if w.hpaMax > 0 {
		target := int32(70)
		hpa := &autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: meta, Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: s.name},
			MinReplicas:    &w.hpaMin, MaxReplicas: w.hpaMax,
			Metrics: []autoscalingv2.MetricSpec{{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
				Name: corev1.ResourceCPU, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: &target}}}}}}
		if err := ensure(ctx, func() error {
			_, err := cs.AutoscalingV2().HorizontalPodAutoscalers(s.namespace).Create(ctx, hpa, metav1.CreateOptions{})
			return err
		}); err != nil {
			return err
		}
	}
	if w.pdb {
		one := intstr.FromInt32(1)
		pdb := &policyv1.PodDisruptionBudget{ObjectMeta: meta, Spec: policyv1.PodDisruptionBudgetSpec{MaxUnavailable: &one, Selector: &metav1.LabelSelector{MatchLabels: sel}}}
		if err := ensure(ctx, func() error {
			_, err := cs.PolicyV1().PodDisruptionBudgets(s.namespace).Create(ctx, pdb, metav1.CreateOptions{})
			return err
		}); err != nil {
			return err
		}
	}
	if w.netpol {
		np := &networkingv1.NetworkPolicy{ObjectMeta: meta, Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: sel}, PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
			Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{
				{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "platform"}}},
				{PodSelector: &metav1.LabelSelector{}}}}}}}
		if err := ensure(ctx, func() error {
			_, err := cs.NetworkingV1().NetworkPolicies(s.namespace).Create(ctx, np, metav1.CreateOptions{})
			return err
		}); err != nil {
			return err
		}
	}
	return nil
}

func sortStrings(s []string) { sort.Strings(s) }
