package components

// Flash is the outcome of the last action, shown at the top of a page.
type Flash struct {
	Kind    string // ok, warn, error
	Title   string
	Message string
	Link    *Link
}

// ActionState says whether the user may use an action here, and if not, why.
type ActionState struct {
	Allowed bool
	Why     string
}

// WorkloadPage is a Deployment's page: live progress, revisions and the actions.
type WorkloadPage struct {
	Entity                Link
	Cluster, Environment  string
	Namespace, Name       string
	Production            bool
	Base                  string // this page's URL; actions post to Base/<action>
	EventsURL             string // server-sent events when the workload changes
	CSRF                  string
	Flash                 *Flash
	Progress              Progress
	Revisions             []RevisionRow
	Containers            []string
	Images                []string // images this service ran before, newest first
	Generation            int64
	Replicas, MaxReplicas int32
	HPA                   *HPABounds
	Deploy, Rollback      ActionState
	Scale, Restart        ActionState
	Audit                 []AuditRow
	AuditHref             string
}

// Progress is a rollout's state: updated, ready and available replicas against the desired
// count, and the ReplicaSets coming up and going.
type Progress struct {
	URL                                string
	State, Reason                      string // complete, progressing, stalled
	Desired, Updated, Ready, Available int32
	Total                              int32
	Sets                               []ReplicaSetRow
	Pods                               []PodRow
	Health                             HealthBadge
}

// ConfirmAction is the dry-run preview of an action, with the form that applies it.
type ConfirmAction struct {
	Title, Verb       string
	Entity            Link
	Workload, Cluster string
	Environment       string
	Message           string
	Before, After     string
	Diff              []DiffLine
	Unchanged         bool
	Warning           string
	NeedReason        bool
	NeedName          bool
	Name              string
	Reason            string
	Post, Cancel      string
	Fields            []Hidden
	CSRF              string
}
