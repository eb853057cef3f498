package cluster

import (
	"fmt"
	"sort"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"
)

// Runtime is what runs for one component, in every cluster it may run in.
type Runtime struct {
	Selector string           `json:"selector"`
	Clusters []ClusterRuntime `json:"clusters"`
	Health   Health           `json:"health"`
}

// ClusterRuntime is one cluster's share of a Runtime.
type ClusterRuntime struct {
	Name         string       `json:"name"`
	DisplayName  string       `json:"displayName"`
	Environment  string       `json:"environment,omitempty"`
	Reachability Reachability `json:"reachability"`
	Workloads    []Workload   `json:"workloads"`
	Services     []Service    `json:"services,omitempty"`
	Ingresses    []Ingress    `json:"ingresses,omitempty"`
	Events       []Event      `json:"events,omitempty"`
	Health       Health       `json:"health"`
}

// Workload is a Deployment, StatefulSet or DaemonSet with its pods and guards.
type Workload struct {
	Kind          string   `json:"kind"`
	Namespace     string   `json:"namespace"`
	Name          string   `json:"name"`
	Desired       int32    `json:"desired"`
	Ready         int32    `json:"ready"`
	Updated       int32    `json:"updated"`
	Available     int32    `json:"available"`
	Revision      string   `json:"revision,omitempty"`
	Images        []string `json:"images"`
	Rollout       string   `json:"rollout"` // complete, progressing, stalled
	RolloutReason string   `json:"rolloutReason,omitempty"`
	Pods          []Pod    `json:"pods"`
	HPA           *HPA     `json:"hpa,omitempty"`
	PDB           *PDB     `json:"pdb,omitempty"`
	Health        Health   `json:"health"`
}

// Pod is one pod's state.
type Pod struct {
	Name            string    `json:"name"`
	Phase           string    `json:"phase"`
	Ready           bool      `json:"ready"`
	Restarts        int32     `json:"restarts"`
	Created         time.Time `json:"created"`
	Node            string    `json:"node,omitempty"`
	Reason          string    `json:"reason,omitempty"`      // why it is not serving
	NodeProblem     string    `json:"nodeProblem,omitempty"` // what is wrong with its node (not ready, under pressure)
	LastTermination string    `json:"lastTermination,omitempty"`
	ExitCode        int32     `json:"exitCode,omitempty"`
	Hash            string    `json:"templateHash,omitempty"`
	Revision        int       `json:"revision,omitempty"` // its ReplicaSet's (Deployments only)
	TerminatedAt    time.Time `json:"terminatedAt,omitzero"`
	Containers      []string  `json:"containers"`
}

// HPA is a workload's autoscaler.
type HPA struct {
	Min     int32    `json:"min"`
	Max     int32    `json:"max"`
	Current int32    `json:"current"`
	Desired int32    `json:"desired"`
	Metrics []string `json:"metrics,omitempty"`
}

// PDB is a workload's disruption budget.
type PDB struct {
	Name             string `json:"name"`
	CurrentHealthy   int32  `json:"currentHealthy"`
	DesiredHealthy   int32  `json:"desiredHealthy"`
	AllowedDisrupted int32  `json:"disruptionsAllowed"`
}

// Service is a Kubernetes Service selecting the component's pods.
type Service struct {
	Namespace string   `json:"namespace"`
	Name      string   `json:"name"`
	Type      string   `json:"type"`
	ClusterIP string   `json:"clusterIP"`
	Ports     []string `json:"ports"`
}

// Ingress routes external hosts to the component's services.
type Ingress struct {
	Namespace string   `json:"namespace"`
	Name      string   `json:"name"`
	URLs      []string `json:"urls"`
}

// Event is a recent Warning event about the component's objects.
type Event struct {
	Object    string    `json:"object"`
	Namespace string    `json:"namespace,omitempty"`
	Reason    string    `json:"reason"`
	Message   string    `json:"message"`
	Count     int32     `json:"count"`
	Last      time.Time `json:"last"`
}

// Runtime answers what runs for q in this cluster, from the caches.
func (c *Cluster) Runtime(q Query) ClusterRuntime { return c.runtime(q, true) }

// runtime is Runtime; without full, only the workloads and health.
func (c *Cluster) runtime(q Query, full bool) ClusterRuntime {
	cr := ClusterRuntime{Name: c.Name, DisplayName: c.DisplayName, Environment: c.Environment, Reachability: c.Reachability()}
	if !cr.Reachability.Synced {
		cr.Health = Health{Unknown, "cluster not reachable yet"}
		if cr.Reachability.Error != "" {
			cr.Health.Reason = "cluster unreachable: " + cr.Reachability.Error
		}
		return cr
	}
	for _, obj := range selectObjects(c.idx.deployments, q.Namespace, q.Selector) {
		cr.Workloads = append(cr.Workloads, c.deployment(obj.(*appsv1.Deployment)))
	}
	for _, obj := range selectObjects(c.idx.statefulSets, q.Namespace, q.Selector) {
		s := obj.(*appsv1.StatefulSet)
		w := c.podSet("StatefulSet", s.ObjectMeta, s.Spec.Template, deref(s.Spec.Replicas), s.Status.ReadyReplicas, s.Status.UpdatedReplicas, s.Status.AvailableReplicas)
		w.Rollout, w.RolloutReason = statefulSetRollout(s)
		w.Health = workloadHealth(w)
		cr.Workloads = append(cr.Workloads, w)
	}
	for _, obj := range selectObjects(c.idx.daemonSets, q.Namespace, q.Selector) {
		d := obj.(*appsv1.DaemonSet)
		w := c.podSet("DaemonSet", d.ObjectMeta, d.Spec.Template, d.Status.DesiredNumberScheduled, d.Status.NumberReady, d.Status.UpdatedNumberScheduled, d.Status.NumberAvailable)
		w.Rollout, w.RolloutReason = daemonSetRollout(d)
		w.Health = workloadHealth(w)
		cr.Workloads = append(cr.Workloads, w)
	}
	sort.Slice(cr.Workloads, func(i, j int) bool {
		return cr.Workloads[i].Namespace+cr.Workloads[i].Name < cr.Workloads[j].Namespace+cr.Workloads[j].Name
	})
	if full {
		for _, obj := range selectObjects(c.idx.services, q.Namespace, q.Selector) {
			cr.Services = append(cr.Services, service(obj.(*corev1.Service)))
		}
		cr.Ingresses = c.ingresses(cr.Services)
		cr.Events = c.events(cr.Workloads)
	}
	if len(cr.Workloads) == 0 {
		cr.Health = Health{Unknown, "no workload matches " + q.SelectorText}
	}
	for i, w := range cr.Workloads {
		if i == 0 {
			cr.Health = w.Health
		}
		cr.Health = worst(cr.Health, w.Health)
	}
	if !cr.Reachability.Reachable && cr.Reachability.Probed && cr.Health.Level < Unknown {
		cr.Health = Health{Unknown, "cluster unreachable: showing state as of " + cr.Reachability.StaleSince.UTC().Format(time.RFC3339)}
	}
	return cr
}

func deref(p *int32) int32 {
	if p == nil {
		return 1
	}
	return *p
}

func (c *Cluster) deployment(d *appsv1.Deployment) Workload {
	w := Workload{Kind: "Deployment", Namespace: d.Namespace, Name: d.Name, Desired: deref(d.Spec.Replicas),
		Ready: d.Status.ReadyReplicas, Updated: d.Status.UpdatedReplicas, Available: d.Status.AvailableReplicas,
		Revision: d.Annotations["deployment.kubernetes.io/revision"], Images: images(d.Spec.Template)}
	for _, rs := range byOwner(c.idx.replicaSets, string(d.UID)) {
		rev := Revision(rs.(*appsv1.ReplicaSet))
		for _, p := range byOwner(c.idx.pods, string(rs.(*appsv1.ReplicaSet).UID)) {
			pv := c.pod(p.(*corev1.Pod))
			pv.Revision = rev
			w.Pods = append(w.Pods, pv)
		}
	}
	w.Rollout, w.RolloutReason = rolloutState(d)
	c.guards(&w, d.Spec.Template.Labels)
	w.Health = workloadHealth(w)
	return w
}

// podSet is a StatefulSet's or DaemonSet's workload; the caller sets its rollout state and
// then its health.
func (c *Cluster) podSet(kind string, m metav1.ObjectMeta, t corev1.PodTemplateSpec, desired, ready, updated, available int32) Workload {
	w := Workload{Kind: kind, Namespace: m.Namespace, Name: m.Name, Desired: desired, Ready: ready, Updated: updated, Available: available, Images: images(t)}
	for _, p := range byOwner(c.idx.pods, string(m.UID)) {
		w.Pods = append(w.Pods, c.pod(p.(*corev1.Pod)))
	}
	c.guards(&w, t.Labels)
	return w
}

func images(t corev1.PodTemplateSpec) []string {
	var out []string
	for _, c := range t.Spec.Containers {
		out = append(out, c.Image)
	}
	return out
}

// rolloutState reads a Deployment as kubectl rollout status does: nothing the status says
// counts until the controller has observed the current spec (a fresh deploy is progressing,
// whatever an earlier revision's deadline said); then an exceeded progress deadline is
// stalled, and the replicas' counts say how far the rollout is.
func rolloutState(d *appsv1.Deployment) (string, string) {
	if d.Status.ObservedGeneration < d.Generation {
		return "progressing", "waiting for the controller to see the new spec"
	}
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentProgressing && c.Reason == "ProgressDeadlineExceeded" {
			return "stalled", "progress deadline exceeded: " + c.Message
		}
	}
	want := deref(d.Spec.Replicas)
	switch {
	case d.Status.UpdatedReplicas < want:
		return "progressing", fmt.Sprintf("%d of %d replicas updated", d.Status.UpdatedReplicas, want)
	case d.Status.Replicas > d.Status.UpdatedReplicas:
		return "progressing", fmt.Sprintf("%d old replicas pending termination", d.Status.Replicas-d.Status.UpdatedReplicas)
	case d.Status.AvailableReplicas < d.Status.UpdatedReplicas:
		return "progressing", fmt.Sprintf("%d of %d updated replicas available", d.Status.AvailableReplicas, d.Status.UpdatedReplicas)
	}
	return "complete", ""
}

// statefulSetRollout reads a StatefulSet as kubectl rollout status does, partitions
// included; with the OnDelete strategy pods change only when deleted, so there is no
// rollout to wait for, only how many run the new revision.
func statefulSetRollout(s *appsv1.StatefulSet) (string, string) {
	want := deref(s.Spec.Replicas)
	if s.Spec.UpdateStrategy.Type == appsv1.OnDeleteStatefulSetStrategyType {
		if s.Status.UpdatedReplicas < want {
			return "complete", fmt.Sprintf("OnDelete: %d of %d pods run the new revision; the others change when deleted", s.Status.UpdatedReplicas, want)
		}
		return "complete", ""
	}
	if s.Status.ObservedGeneration == 0 || s.Status.ObservedGeneration < s.Generation {
		return "progressing", "waiting for the controller to see the new spec"
	}
	if s.Status.ReadyReplicas < want {
		return "progressing", fmt.Sprintf("waiting for %d pods to be ready", want-s.Status.ReadyReplicas)
	}
	if ru := s.Spec.UpdateStrategy.RollingUpdate; ru != nil && ru.Partition != nil && *ru.Partition > 0 {
		if s.Status.UpdatedReplicas < want-*ru.Partition {
			return "progressing", fmt.Sprintf("partitioned rollout: %d of %d new pods updated", s.Status.UpdatedReplicas, want-*ru.Partition)
		}
		return "complete", fmt.Sprintf("partitioned rollout complete: %d new pods, %d held back at partition %d", s.Status.UpdatedReplicas, *ru.Partition, *ru.Partition)
	}
	if s.Status.UpdateRevision != s.Status.CurrentRevision {
		return "progressing", fmt.Sprintf("%d of %d pods at revision %s", s.Status.UpdatedReplicas, want, s.Status.UpdateRevision)
	}
	return "complete", ""
}

// daemonSetRollout reads a DaemonSet as kubectl rollout status does (OnDelete as for
// StatefulSets).
func daemonSetRollout(d *appsv1.DaemonSet) (string, string) {
	want := d.Status.DesiredNumberScheduled
	if d.Spec.UpdateStrategy.Type == appsv1.OnDeleteDaemonSetStrategyType {
		if d.Status.UpdatedNumberScheduled < want {
			return "complete", fmt.Sprintf("OnDelete: %d of %d pods run the new revision; the others change when deleted", d.Status.UpdatedNumberScheduled, want)
		}
		return "complete", ""
	}
	if d.Status.ObservedGeneration < d.Generation {
		return "progressing", "waiting for the controller to see the new spec"
	}
	switch {
	case d.Status.UpdatedNumberScheduled < want:
		return "progressing", fmt.Sprintf("%d of %d new pods updated", d.Status.UpdatedNumberScheduled, want)
	case d.Status.NumberAvailable < want:
		return "progressing", fmt.Sprintf("%d of %d updated pods available", d.Status.NumberAvailable, want)
	}
	return "complete", ""
}

// guards attaches the workload's autoscaler and disruption budget.
func (c *Cluster) guards(w *Workload, podLabels map[string]string) {
	hpas, _ := c.idx.hpas.GetIndexer().ByIndex(cache.NamespaceIndex, w.Namespace)
	for _, obj := range hpas {
		h := obj.(*autoscalingv2.HorizontalPodAutoscaler)
		if h.Spec.ScaleTargetRef.Kind == w.Kind && h.Spec.ScaleTargetRef.Name == w.Name {
			w.HPA = &HPA{Min: deref(h.Spec.MinReplicas), Max: h.Spec.MaxReplicas, Current: h.Status.CurrentReplicas, Desired: h.Status.DesiredReplicas}
			for _, m := range h.Status.CurrentMetrics {
				if m.Resource != nil && m.Resource.Current.AverageUtilization != nil {
					w.HPA.Metrics = append(w.HPA.Metrics, fmt.Sprintf("%s %d%%", m.Resource.Name, *m.Resource.Current.AverageUtilization))
				}
			}
			for _, cond := range h.Status.Conditions {
				if cond.Status == corev1.ConditionFalse && cond.Type == autoscalingv2.ScalingActive {
					w.HPA.Metrics = append(w.HPA.Metrics, "metrics unavailable: "+cond.Reason)
				}
			}
		}
	}
	pdbs, _ := c.idx.pdbs.GetIndexer().ByIndex(cache.NamespaceIndex, w.Namespace)
	for _, obj := range pdbs {
		p := obj.(*policyv1.PodDisruptionBudget)
		sel, err := metav1.LabelSelectorAsSelector(p.Spec.Selector)
		if err == nil && !sel.Empty() && sel.Matches(labels.Set(podLabels)) {
			w.PDB = &PDB{Name: p.Name, CurrentHealthy: p.Status.CurrentHealthy, DesiredHealthy: p.Status.DesiredHealthy, AllowedDisrupted: p.Status.DisruptionsAllowed}
		}
	}
}

// pod is pod with what is wrong with its node: a pod failing its readiness on a node that is
// not ready fails because of the node.
func (c *Cluster) pod(p *corev1.Pod) Pod {
	out := pod(p)
	if podActive(p) {
		out.NodeProblem = c.nodeProblemOf(out.Node)
	}
	if out.NodeProblem != "" && (out.Reason == "failing readiness" || out.Reason == "" && !out.Ready) {
		out.Reason = out.NodeProblem
	}
	return out
}

func pod(p *corev1.Pod) Pod {
	out := Pod{Name: p.Name, Phase: string(p.Status.Phase), Node: p.Spec.NodeName, Created: p.CreationTimestamp.Time, Hash: p.Labels["pod-template-hash"]}
	for _, c := range p.Spec.Containers {
		out.Containers = append(out.Containers, c.Name)
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			out.Ready = c.Status == corev1.ConditionTrue
		}
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
			out.Reason = "Unschedulable: " + c.Message
		}
	}
	for _, s := range p.Status.ContainerStatuses {
		out.Restarts += s.RestartCount
		if t := s.LastTerminationState.Terminated; t != nil {
			out.LastTermination, out.ExitCode, out.TerminatedAt = t.Reason, t.ExitCode, t.FinishedAt.Time
		}
		if w := s.State.Waiting; w != nil && w.Reason != "" && w.Reason != "ContainerCreating" && w.Reason != "PodInitializing" {
			out.Reason = w.Reason
		}
	}
	if out.LastTermination == "OOMKilled" && out.Reason == "CrashLoopBackOff" {
		out.Reason = "OOMKilled"
	}
	if out.Reason == "" && p.Status.Phase == corev1.PodRunning && !out.Ready && p.DeletionTimestamp == nil {
		out.Reason = "failing readiness"
	}
	return out
}

func workloadHealth(w Workload) Health {
	if w.Desired == 0 {
		return Health{Healthy, "scaled to zero"}
	}
	reasons := map[string]int{}
	var first string
	for _, p := range w.Pods {
		if p.Reason != "" {
			if reasons[p.Reason] == 0 && first == "" {
				first = p.Reason
			}
			reasons[p.Reason]++
		}
	}
	h := Health{Healthy, fmt.Sprintf("%d/%d ready", w.Ready, w.Desired)}
	if first != "" {
		h = Health{Degraded, fmt.Sprintf("%s (%d of %d pods)", first, reasons[first], len(w.Pods))}
	}
	onTroubled, problem := 0, ""
	for _, p := range w.Pods {
		if p.NodeProblem != "" {
			if onTroubled++; problem == "" {
				problem = p.NodeProblem
			}
		}
	}
	if onTroubled > 0 {
		h = worst(h, Health{Degraded, fmt.Sprintf("%d of %d pods on a troubled node: %s", onTroubled, len(w.Pods), problem)})
	}
	switch {
	case w.Rollout == "stalled":
		h = worst(h, Health{Degraded, w.RolloutReason})
	case w.Rollout == "progressing" && h.Level == Healthy:
		h = Health{Progressing, "rolling out: " + w.RolloutReason}
	}
	if w.HPA != nil && w.HPA.Max > 0 && w.HPA.Current >= w.HPA.Max {
		h = worst(h, Health{Degraded, fmt.Sprintf("HPA at its maximum (%d replicas)", w.HPA.Max)})
	}
	if w.PDB != nil && w.PDB.CurrentHealthy < w.PDB.DesiredHealthy {
		h = worst(h, Health{Degraded, fmt.Sprintf("fewer available replicas (%d) than the PDB %s allows (%d)", w.PDB.CurrentHealthy, w.PDB.Name, w.PDB.DesiredHealthy)})
	}
	if w.Ready == 0 && (first != "" || w.Rollout != "progressing") {
		reason := "no ready replicas"
		if first != "" {
			reason += ": " + first
		}
		h = Health{Down, reason}
	}
	return h
}

func service(s *corev1.Service) Service {
	out := Service{Namespace: s.Namespace, Name: s.Name, Type: string(s.Spec.Type), ClusterIP: s.Spec.ClusterIP}
	for _, p := range s.Spec.Ports {
		out.Ports = append(out.Ports, fmt.Sprintf("%d/%s", p.Port, strings.ToLower(string(p.Protocol))))
	}
	return out
}

// ingresses finds the Ingresses routing to any of the services.
func (c *Cluster) ingresses(svcs []Service) []Ingress {
	var out []Ingress
	seen := map[string]bool{}
	for _, s := range svcs {
		objs, _ := c.idx.ingresses.GetIndexer().ByIndex(cache.NamespaceIndex, s.Namespace)
		for _, obj := range objs {
			ing := obj.(*networkingv1.Ingress)
			if seen[ing.Namespace+"/"+ing.Name] || !routesTo(ing, s.Name) {
				continue
			}
			seen[ing.Namespace+"/"+ing.Name] = true
			tls := map[string]bool{}
			for _, t := range ing.Spec.TLS {
				for _, h := range t.Hosts {
					tls[h] = true
				}
			}
			i := Ingress{Namespace: ing.Namespace, Name: ing.Name}
			for _, r := range ing.Spec.Rules {
				scheme := "http://"
				if tls[r.Host] {
					scheme = "https://"
				}
				if r.Host != "" {
					i.URLs = append(i.URLs, scheme+r.Host+"/")
				}
			}
			out = append(out, i)
		}
	}
	return out
}

func routesTo(ing *networkingv1.Ingress, svc string) bool {
	if b := ing.Spec.DefaultBackend; b != nil && b.Service != nil && b.Service.Name == svc {
		return true
	}
	for _, r := range ing.Spec.Rules {
		if r.HTTP == nil {
			continue
		}
		for _, p := range r.HTTP.Paths {
			if p.Backend.Service != nil && p.Backend.Service.Name == svc {
				return true
			}
		}
	}
	return false
}

// events returns recent Warning events about the workloads and their pods, newest first.
func (c *Cluster) events(ws []Workload) []Event {
	var objs []*corev1.Event
	for _, w := range ws {
		objs = append(objs, c.eventsAbout(w.Kind, w.Namespace, w.Name)...)
		for _, p := range w.Pods {
			objs = append(objs, c.eventsAbout("Pod", w.Namespace, p.Name)...)
		}
	}
	return newestEvents(objs, 20, true)
}
