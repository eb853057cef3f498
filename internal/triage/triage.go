// Package triage answers the on-call engineer's question about one service: what is broken,
// since when, what changed, what most likely caused it and what to do about it. It is pure:
// the HTTP layer gathers the signals (cluster caches, the audit log, Prometheus, Alertmanager,
// Jaeger) into an Input, and Analyze ranks the suspects from whatever of them it was given.
package triage

import (
	"time"
)

// Suspect kinds, as the JSON API names them.
const (
	KindDeploy         = "deploy"
	KindConfig         = "config"
	KindScale          = "scale"
	KindDependency     = "dependency"
	KindCapacity       = "capacity"
	KindInfrastructure = "infrastructure"
	KindSelf           = "self"
)

// Change kinds on the timeline.
const (
	ChangeDeploy   = "deploy"
	ChangeRollback = "rollback"
	ChangeScale    = "scale"
	ChangeRestart  = "restart"
	ChangeConfig   = "config"
	ChangeHPA      = "hpa"
	ChangePipeline = "pipeline"
	ChangeWarning  = "warning" // a Kubernetes Warning event
	ChangeNode     = "node"
	ChangeAlert    = "alert"
)

// Health levels, as the cluster package words them.
const (
	Healthy     = "healthy"
	Progressing = "progressing"
	Degraded    = "degraded"
	Down        = "down"
	Unknown     = "unknown"
)

// Point is one sample of a series.
type Point struct {
	T time.Time
	V float64
}

// Signals are a service's golden signals over the window, oldest first. A nil series is one
// that could not be read (or the service has none).
type Signals struct {
	Errors  []Point // 5xx ratio, 0..1
	Latency []Point // p95, seconds
}

// Alert is an alert naming the service.
type Alert struct {
	Name   string
	Firing bool // else pending
	Since  time.Time
}

// Workload is one of the service's workloads in one cluster, as the caches see it now.
type Workload struct {
	Cluster, Namespace, Name   string
	Revision                   int // current revision (0 when it has none)
	Desired                    int32
	HPAMin, HPAMax, HPACurrent int32 // zero without an autoscaler
	Unreachable                bool  // the cluster's caches are stale
	Pods                       []PodProblem
	// RevisionErrors are the error ratios of the pods of each revision serving now, from
	// per-pod metrics: a bad release shows here before any alert.
	RevisionErrors []RevisionErrors
	// CPUNearLimit is the share of the CPU limit the busiest pod uses (0: unknown).
	CPUNearLimit float64
	Nodes        []NodeProblem // nodes running its pods that are not healthy
	// PodRevisions maps its pods to their revisions, for the gatherer's per-pod metrics.
	PodRevisions map[string]int
}

// PodProblem is one reason pods of the workload do not serve.
type PodProblem struct {
	Reason   string // CrashLoopBackOff, OOMKilled, failing readiness, ImagePullBackOff, …
	Revision int    // the revision of the pods (0: unknown)
	Count    int
	Since    time.Time // the oldest such pod's start, or its last termination
	Probe    string    // the failing probe an event names, if any
	// OnBadNode: the pods are on a node that is not ready, which explains them better than
	// their revision does.
	OnBadNode bool
}

// RevisionErrors is one revision's share of errors.
type RevisionErrors struct {
	Revision int
	Ratio    float64
	Pods     int
}

// NodeProblem is a node that is not healthy.
type NodeProblem struct {
	Cluster, Name, Condition, Message string
	Since                             time.Time
	Pods                              int // of this workload on it
}

// Change is something that happened: to the service, a dependency, or around them.
type Change struct {
	At                           time.Time
	Kind                         string // Change*
	Entity                       string // catalog ref of the component it is about
	Cluster, Namespace, Workload string
	Revision, FromRevision       int    // deploys and rollbacks: the revision made and the one before
	Replicas, FromReplicas       int32  // scales
	Object                       string // the ConfigMap or Secret, the event's object
	AuditID                      string // the portal's audit entry that made it, if it did
	Summary, Actor, Href         string
}

// Service is one component's state: the service triaged, or one of its dependencies.
type Service struct {
	Entity    string // catalog ref
	Health    string // the cluster rollup (Health*)
	Reasons   []string
	Signals   Signals
	Alerts    []Alert
	Workloads []Workload
	Changes   []Change
}

// Origin is where errors in recent traces start: the deepest failing span's service.
type Origin struct {
	Entity string // catalog ref, empty when the service is not in the catalog
	Spans  int
}

// Input is everything gathered for one triage.
type Input struct {
	Now          time.Time
	Window       time.Duration // how far back the signals and changes go
	Service      Service
	Dependencies []Service
	Origins      []Origin
	// AlertOnset, when set, is the start of the alert the triage was opened from: it is the onset.
	AlertOnset time.Time
	Missing    []string // backends that could not be read
}

// Result is the triage's answer.
type Result struct {
	Entity   string     `json:"entity"`
	Health   string     `json:"health"`
	Reasons  []string   `json:"reasons,omitempty"`
	Onset    *time.Time `json:"onset"`
	Suspects []Suspect  `json:"suspects"`
	Timeline []Entry    `json:"timeline"`
	Missing  []string   `json:"missing"`
}

// Suspect is one likely cause, with why.
type Suspect struct {
	Rank        int          `json:"rank"`
	Kind        string       `json:"kind"`
	Subject     Subject      `json:"subject"`
	Summary     string       `json:"summary"`
	Confidence  float64      `json:"confidence"`
	Evidence    []Evidence   `json:"evidence"`
	Mitigations []Mitigation `json:"mitigations"`
}

// Subject is what a suspect is about; Entity is always the component's catalog ref.
type Subject struct {
	Entity    string `json:"entity"`
	Cluster   string `json:"cluster,omitempty"`
	Namespace string `json:"namespace,omitempty"`
	Workload  string `json:"workload,omitempty"`
	Revision  int    `json:"revision,omitempty"`
	Node      string `json:"node,omitempty"`
}

// Evidence is one signal behind a suspect.
type Evidence struct {
	Signal string     `json:"signal"`
	Detail string     `json:"detail"`
	At     *time.Time `json:"at,omitempty"`
	Href   string     `json:"href,omitempty"`
}

// Mitigation is an action suggested against a suspect. The HTTP layer keeps those the user may
// perform and fills in Href.
type Mitigation struct {
	Action    string         `json:"action"` // rollback, scale, restart, open
	Entity    string         `json:"entity,omitempty"`
	Cluster   string         `json:"cluster,omitempty"`
	Namespace string         `json:"namespace,omitempty"`
	Workload  string         `json:"workload,omitempty"`
	Params    map[string]any `json:"params,omitempty"`
	Href      string         `json:"href,omitempty"`
	Label     string         `json:"-"`
}

// Entry is one change on the timeline.
type Entry struct {
	At      time.Time `json:"at"`
	Kind    string    `json:"kind"`
	Entity  string    `json:"entity"`
	Summary string    `json:"summary"`
	Actor   string    `json:"actor,omitempty"`
	Href    string    `json:"href,omitempty"`
}

// Analyze triages in.Service from what in holds.
func Analyze(in Input) Result {
	if in.Window == 0 {
		in.Window = time.Hour
	}
	r := Result{Entity: in.Service.Entity, Missing: in.Missing, Suspects: []Suspect{}, Timeline: []Entry{}}
	if r.Missing == nil {
		r.Missing = []string{}
	}
	onset := in.AlertOnset
	if onset.IsZero() {
		onset = Onset(in.Service, in.Now.Add(-in.Window))
	}
	if !onset.IsZero() {
		r.Onset = &onset
	}
	r.Health, r.Reasons = healthOf(in.Service)
	if !in.AlertOnset.IsZero() && (r.Health == Healthy || r.Health == Unknown) {
		r.Health = Degraded // opened from an alert: it is the degradation, pending or firing
	}
	r.Timeline = timeline(in)
	if r.Health == Healthy && onset.IsZero() {
		return r
	}
	ref := onset
	if ref.IsZero() {
		ref = in.Now
	}
	r.Suspects = rank(suspects(in, ref))
	return r
}

// healthOf is the cluster's health, made worse by what the signals and alerts say.
func healthOf(s Service) (string, []string) {
	h := s.Health
	if h == "" {
		h = Unknown
	}
	reasons := append([]string(nil), s.Reasons...)
	firing := 0
	for _, a := range s.Alerts {
		if a.Firing {
			firing++
		}
	}
	if firing > 0 {
		reasons = append(reasons, plural(firing, "alert")+" firing")
	}
	if pending := len(s.Alerts) - firing; pending > 0 {
		reasons = append(reasons, plural(pending, "alert")+" pending")
	}
	if v, ok := last(s.Signals.Errors); ok && v >= errorFloor {
		reasons = append(reasons, "error ratio "+percent(v))
	}
	if (firing > 0 || degradedNow(s.Signals)) && (h == Healthy || h == Progressing || h == Unknown) {
		h = Degraded
	}
	return h, reasons
}
