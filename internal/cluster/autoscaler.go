package cluster

import (
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// AutoscalerConfigMap is where the cluster autoscaler writes its status (its
// --status-config-map-name default), in kube-system.
const AutoscalerConfigMap = "cluster-autoscaler-status"

// AutoscalerStatus is the cluster autoscaler's own report: overall and per node group health,
// scale-up and scale-down activity, and its recent scaling events.
type AutoscalerStatus struct {
	Updated    time.Time             `json:"updated,omitzero"`
	State      string                `json:"state,omitempty"` // Running, Initializing
	Health     string                `json:"health,omitempty"`
	Ready      string                `json:"ready,omitempty"` // "5 of 6 registered nodes ready"
	ScaleUp    string                `json:"scaleUp,omitempty"`
	ScaleDown  string                `json:"scaleDown,omitempty"`
	NodeGroups []AutoscalerNodeGroup `json:"nodeGroups,omitempty"`
	Events     []Event               `json:"events"`        // its scale-ups and scale-downs, newest first
	Raw        string                `json:"raw,omitempty"` // the report when it is not the structured format (before 1.30)
	Problem    string                `json:"problem,omitempty"`
}

// AutoscalerNodeGroup is one node group in the report.
type AutoscalerNodeGroup struct {
	Name      string `json:"name"`
	Health    string `json:"health"`
	Ready     string `json:"ready"`
	Size      string `json:"size"` // target within min–max
	ScaleUp   string `json:"scaleUp"`
	ScaleDown string `json:"scaleDown"`
}

// caStatus is the structured status the autoscaler writes since 1.30.
type caStatus struct {
	Time             string `json:"time"`
	AutoscalerStatus string `json:"autoscalerStatus"`
	Message          string `json:"message"`
	ClusterWide      struct {
		Health    caHealth   `json:"health"`
		ScaleUp   caActivity `json:"scaleUp"`
		ScaleDown caActivity `json:"scaleDown"`
	} `json:"clusterWide"`
	NodeGroups []struct {
		Name      string     `json:"name"`
		Health    caHealth   `json:"health"`
		ScaleUp   caActivity `json:"scaleUp"`
		ScaleDown caActivity `json:"scaleDown"`
	} `json:"nodeGroups"`
}

type caHealth struct {
	Status     string `json:"status"`
	NodeCounts struct {
		Registered struct {
			Total      int `json:"total"`
			Ready      int `json:"ready"`
			NotStarted int `json:"notStarted"`
		} `json:"registered"`
		LongUnregistered int `json:"longUnregistered"`
		Unregistered     int `json:"unregistered"`
	} `json:"nodeCounts"`
	CloudProviderTarget int `json:"cloudProviderTarget"`
	MinSize             int `json:"minSize"`
	MaxSize             int `json:"maxSize"`
}

type caActivity struct {
	Status             string `json:"status"`
	LastTransitionTime string `json:"lastTransitionTime"`
}

func (a caActivity) String() string {
	if a.LastTransitionTime == "" {
		return a.Status
	}
	if t, err := time.Parse(time.RFC3339, a.LastTransitionTime); err == nil {
		return fmt.Sprintf("%s since %s", a.Status, t.UTC().Format("15:04 UTC Jan 2"))
	}
	return a.Status
}

func (h caHealth) ready() string {
	r := h.NodeCounts.Registered
	s := fmt.Sprintf("%d of %d ready", r.Ready, r.Total)
	if r.NotStarted > 0 {
		s += fmt.Sprintf(", %d starting", r.NotStarted)
	}
	if n := h.NodeCounts.Unregistered + h.NodeCounts.LongUnregistered; n > 0 {
		s += fmt.Sprintf(", %d unregistered", n)
	}
	return s
}

// ParseAutoscalerStatus reads the status ConfigMap's "status" key.
func ParseAutoscalerStatus(text string) AutoscalerStatus {
	var st caStatus
	if err := yaml.Unmarshal([]byte(text), &st); err != nil || st.AutoscalerStatus == "" && st.ClusterWide.Health.Status == "" {
		return AutoscalerStatus{Raw: strings.TrimSpace(text)}
	}
	out := AutoscalerStatus{State: st.AutoscalerStatus, Health: st.ClusterWide.Health.Status, Ready: st.ClusterWide.Health.ready(),
		ScaleUp: st.ClusterWide.ScaleUp.String(), ScaleDown: st.ClusterWide.ScaleDown.String(), Problem: st.Message}
	for _, layout := range []string{"2006-01-02 15:04:05.999999999 -0700 MST", time.RFC3339Nano} {
		if t, err := time.Parse(layout, st.Time); err == nil {
			out.Updated = t
			break
		}
	}
	for _, g := range st.NodeGroups {
		out.NodeGroups = append(out.NodeGroups, AutoscalerNodeGroup{Name: g.Name, Health: g.Health.Status, Ready: g.Health.ready(),
			Size:    fmt.Sprintf("%d (%d–%d)", g.Health.CloudProviderTarget, g.Health.MinSize, g.Health.MaxSize),
			ScaleUp: g.ScaleUp.String(), ScaleDown: g.ScaleDown.String()})
	}
	sort.Slice(out.NodeGroups, func(i, j int) bool { return out.NodeGroups[i].Name < out.NodeGroups[j].Name })
	return out
}

// Autoscaler is the cluster autoscaler's status when it runs here (nil otherwise), with the
// events it records on its status ConfigMap: scale-ups and scale-downs.
func (c *Cluster) Autoscaler() *AutoscalerStatus {
	obj, ok, _ := c.cp.autoscaler.GetStore().GetByKey("kube-system/" + AutoscalerConfigMap)
	if !ok {
		return nil
	}
	cm := obj.(*corev1.ConfigMap)
	st := ParseAutoscalerStatus(cm.Data["status"])
	st.Events = newestEvents(c.eventsAbout("ConfigMap", "kube-system", AutoscalerConfigMap), 20, false)
	return &st
}
