package components

// Logs is the logs page of a pod or a workload.
type Logs struct {
	Entity    Link
	Target    string // "pod payments/payment-abc" or "all pods of Deployment payments/payment"
	Cluster   string
	Lines     []LogLine
	Error     string
	Tail      []Option // links to other tail sizes
	Previous  Link     // toggles the previous container
	FollowURL string   // SSE stream of new lines (single pods only)
	Capped    bool
}

// LogLine is one line of a log.
type LogLine struct {
	Time, Pod, Text string
	Level           string // error, warn or "" for colouring
}
