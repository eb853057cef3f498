package cluster

import (
	"context"
	"regexp"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/tools/cache"
)

// RolloutChange is one change of a Deployment's running revision, whoever made it.
type RolloutChange struct {
	At                     time.Time
	Kind                   string // deploy, rollback, restart
	Revision, FromRevision int
	Images                 []string
	Cause, AuditID         string
}

// restartedAtAnnotation is what `kubectl rollout restart` (and Portico's restart) stamp on
// the pod template.
const restartedAtAnnotation = "kubectl.kubernetes.io/restartedAt"

// scaledUp matches the Deployment controller's event when it starts a ReplicaSet, and only
// that (a scale from another count does not match):
// "Scaled up replica set payment-5d4f from 0 to 1" (older versions: "… to 1").
var scaledUp = regexp.MustCompile(`^Scaled up replica set (\S+) (?:from 0 )?to \d+`)

// scaledRS matches any of the controller's scaling events, up or down.
var scaledRS = regexp.MustCompile(`^Scaled (?:up|down) replica set (\S+) `)

// Rollouts lists the Deployment's revisions as changes, oldest first. A revision's time is
// when the controller first scaled its ReplicaSet up from zero, as its events say (a rollback
// reuses an old ReplicaSet, so its creation time would be wrong), else the ReplicaSet's
// creation. auditAnnotation names the portal's audit entry on a ReplicaSet.
func (c *Cluster) Rollouts(d Deployment, auditAnnotation string) []RolloutChange {
	started, touched := map[string]time.Time{}, map[string]time.Time{}
	for _, e := range c.eventsAbout("Deployment", d.Object.Namespace, d.Object.Name) {
		if e.Reason != "ScalingReplicaSet" {
			continue
		}
		t := eventTime(e)
		if m := scaledRS.FindStringSubmatch(e.Message); m != nil && t.After(touched[m[1]]) {
			touched[m[1]] = t
		}
		if m := scaledUp.FindStringSubmatch(e.Message); m != nil && t.After(started[m[1]]) {
			started[m[1]] = t
		}
	}
	sets := append(d.ReplicaSets[:0:0], d.ReplicaSets...)
	sort.Slice(sets, func(i, j int) bool { return Revision(sets[i]) < Revision(sets[j]) })
	var out []RolloutChange
	for i, rs := range sets {
		ch := RolloutChange{At: rs.CreationTimestamp.Time, Kind: "deploy", Revision: Revision(rs), Images: imagesOf(rs),
			Cause: rs.Annotations[changeCause], AuditID: rs.Annotations[auditAnnotation]}
		if t, ok := started[rs.Name]; ok {
			ch.At = t
		}
		if i > 0 {
			prev := sets[i-1]
			ch.FromRevision = Revision(prev)
			switch {
			case rs.CreationTimestamp.Before(&prev.CreationTimestamp):
				ch.Kind = "rollback" // an older ReplicaSet took a newer revision number
				// Rolled back to a ReplicaSet that never stopped (the bad one never became
				// ready): the rollback is when the bad one was scaled away.
				if t := touched[prev.Name]; t.After(ch.At) {
					ch.At = t
				}
			case sameImages(imagesOf(rs), imagesOf(prev)) && rs.Spec.Template.Annotations[restartedAtAnnotation] != prev.Spec.Template.Annotations[restartedAtAnnotation]:
				ch.Kind = "restart"
			}
		}
		out = append(out, ch)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out
}

func sameImages(a, b []string) bool {
	return strings.Join(a, ",") == strings.Join(b, ",")
}

// ScalingEvents are the autoscaler's rescales of the Deployment, newest first.
func (c *Cluster) ScalingEvents(d Deployment) []Event {
	if d.HPA == nil {
		return nil
	}
	var out []Event
	for _, e := range c.eventsAbout("HorizontalPodAutoscaler", d.HPA.Namespace, d.HPA.Name) {
		if e.Reason == "SuccessfulRescale" {
			out = append(out, Event{Object: "HorizontalPodAutoscaler/" + d.HPA.Name, Reason: e.Reason, Message: e.Message, Count: e.Count, Last: eventTime(e)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Last.After(out[j].Last) })
	return out
}

func (c *Cluster) eventsAbout(kind, ns, name string) []*corev1.Event {
	objs, _ := c.idx.events.GetIndexer().ByIndex(indexByInvolved, kind+"/"+ns+"/"+name)
	out := make([]*corev1.Event, 0, len(objs))
	for _, o := range objs {
		out = append(out, o.(*corev1.Event))
	}
	return out
}

func eventTime(e *corev1.Event) time.Time {
	if !e.LastTimestamp.IsZero() {
		return e.LastTimestamp.Time
	}
	if !e.EventTime.IsZero() {
		return e.EventTime.Time
	}
	return e.CreationTimestamp.Time
}

// NodeProblem is a node that is not ready, or under pressure.
type NodeProblem struct {
	Name, Condition, Message string
	Since                    time.Time
}

// NodeProblems are the cluster's unhealthy nodes, by name, each with its first trouble.
func (c *Cluster) NodeProblems() map[string]NodeProblem {
	out := map[string]NodeProblem{}
	for _, obj := range c.idx.nodes.GetStore().List() {
		n := obj.(*corev1.Node)
		if t := nodeTroubles(n); len(t) > 0 {
			out[n.Name] = t[0]
		}
	}
	return out
}

// nodeTroubles are a node's failing conditions: not ready alone (it says it all), else each
// pressure or network condition that holds.
func nodeTroubles(n *corev1.Node) []NodeProblem {
	var out []NodeProblem
	for _, cond := range n.Status.Conditions {
		p := NodeProblem{Name: n.Name, Condition: string(cond.Type), Message: cond.Message, Since: cond.LastTransitionTime.Time}
		switch {
		case cond.Type == corev1.NodeReady && cond.Status != corev1.ConditionTrue:
			p.Condition = "NotReady"
			return []NodeProblem{p}
		case cond.Type != corev1.NodeReady && conditionBad(cond):
			out = append(out, p)
		}
	}
	return out
}

// ConfigChange is a ConfigMap or Secret a workload reads, written after it was created.
// Only its metadata is ever read: the portal never fetches a Secret's values.
type ConfigChange struct {
	Kind, Namespace, Name string
	At                    time.Time
}

// lastWriteAnnotation is where the metadata cache keeps an object's last write (from its
// managed fields, which are then dropped).
const lastWriteAnnotation = "portico.dev/last-write"

// configWatch caches the metadata of ConfigMaps, and of Secrets when the cluster's config
// asks (WatchSecrets: RBAC cannot grant a Secret's metadata without its values, so the
// portal's identity needs list on secrets, which many platform teams refuse). It is separate
// from the main caches: a cluster where the portal may not list them still syncs, and says
// config changes are unknown.
type configWatch struct {
	configMaps, secrets cache.SharedIndexInformer // secrets nil unless watched
}

func newConfigWatch(mc metadata.Interface, secrets bool) *configWatch {
	f := metadatainformer.NewFilteredSharedInformerFactory(mc, 0, metav1.NamespaceAll, nil)
	w := &configWatch{configMaps: f.ForResource(schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}).Informer()}
	_ = w.configMaps.SetTransform(keepLastWrite)
	if secrets {
		w.secrets = f.ForResource(schema.GroupVersionResource{Version: "v1", Resource: "secrets"}).Informer()
		_ = w.secrets.SetTransform(keepLastWrite)
	}
	return w
}

// keepLastWrite replaces an object's managed fields with the time of its last write.
func keepLastWrite(obj any) (any, error) {
	m, ok := obj.(*metav1.PartialObjectMetadata)
	if !ok {
		return obj, nil
	}
	var last time.Time
	for _, f := range m.ManagedFields {
		if f.Time != nil && f.Time.After(last) {
			last = f.Time.Time
		}
	}
	// The informer may hand an object through here again: keep what an earlier pass found.
	kept := m.Annotations[lastWriteAnnotation]
	m.ManagedFields = nil
	m.Annotations = map[string]string{} // may hold a whole copy of the values (kubectl's last-applied)
	switch {
	case !last.IsZero():
		m.Annotations[lastWriteAnnotation] = last.UTC().Format(time.RFC3339)
	case kept != "":
		m.Annotations[lastWriteAnnotation] = kept
	}
	return m, nil
}

func (w *configWatch) start(ctx context.Context) {
	go w.configMaps.Run(ctx.Done())
	if w.secrets != nil {
		go w.secrets.Run(ctx.Done())
	}
}

// ConfigChanges are the ConfigMaps and Secrets the Deployment's pods read that changed after
// they were created, and whether the cluster's config caches could say (false: unknown).
func (c *Cluster) ConfigChanges(d Deployment) ([]ConfigChange, bool) {
	if c.config == nil || !c.config.configMaps.HasSynced() {
		return nil, false
	}
	cms, secrets := ConfigRefs(d.Object.Spec.Template.Spec)
	var out []ConfigChange
	look := func(kind string, inf cache.SharedIndexInformer, names []string) {
		for _, n := range names {
			obj, ok, _ := inf.GetStore().GetByKey(d.Object.Namespace + "/" + n)
			if !ok {
				continue
			}
			m := obj.(*metav1.PartialObjectMetadata)
			at, err := time.Parse(time.RFC3339, m.Annotations[lastWriteAnnotation])
			if err == nil && at.Sub(m.CreationTimestamp.Time) > time.Second {
				out = append(out, ConfigChange{Kind: kind, Namespace: m.Namespace, Name: m.Name, At: at})
			}
		}
	}
	look("ConfigMap", c.config.configMaps, cms)
	if c.config.secrets != nil && c.config.secrets.HasSynced() {
		look("Secret", c.config.secrets, secrets)
	}
	return out, true
}

// ConfigRefs are the ConfigMaps and Secrets a pod spec mounts or reads into its environment.
func ConfigRefs(spec corev1.PodSpec) (configMaps, secrets []string) {
	seen := map[string]bool{}
	add := func(list *[]string, kind, name string) {
		if name != "" && !seen[kind+"/"+name] {
			seen[kind+"/"+name] = true
			*list = append(*list, name)
		}
	}
	for _, v := range spec.Volumes {
		if v.ConfigMap != nil {
			add(&configMaps, "cm", v.ConfigMap.Name)
		}
		if v.Secret != nil {
			add(&secrets, "secret", v.Secret.SecretName)
		}
		if v.Projected != nil {
			for _, s := range v.Projected.Sources {
				if s.ConfigMap != nil {
					add(&configMaps, "cm", s.ConfigMap.Name)
				}
				if s.Secret != nil {
					add(&secrets, "secret", s.Secret.Name)
				}
			}
		}
	}
	for _, ctr := range append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...) {
		for _, f := range ctr.EnvFrom {
			if f.ConfigMapRef != nil {
				add(&configMaps, "cm", f.ConfigMapRef.Name)
			}
			if f.SecretRef != nil {
				add(&secrets, "secret", f.SecretRef.Name)
			}
		}
		for _, e := range ctr.Env {
			if e.ValueFrom == nil {
				continue
			}
			if r := e.ValueFrom.ConfigMapKeyRef; r != nil {
				add(&configMaps, "cm", r.Name)
			}
			if r := e.ValueFrom.SecretKeyRef; r != nil {
				add(&secrets, "secret", r.Name)
			}
		}
	}
	return configMaps, secrets
}
