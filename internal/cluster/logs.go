package cluster

import (
	"bufio"
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Log limits: a page shows at most this much, however large the container's log.
const (
	MaxTailLines    = 5000
	maxLogBytes     = 1 << 20
	DefaultTailLine = 200
)

// LogRequest names the logs to read: one pod's container, or every pod of a workload.
type LogRequest struct {
	Cluster, Namespace string
	Pod                string // one pod, or
	Workload           string // every pod of this Deployment/StatefulSet/DaemonSet
	Container          string // empty: the pod's first container
	Tail               int64
	Previous           bool // the previous (crashed) container instance
}

// LogLine is one line, with the pod it came from and its time when the runtime gave one.
type LogLine struct {
	Time time.Time `json:"time,omitzero"`
	Pod  string    `json:"pod"`
	Text string    `json:"text"`
}

// ErrNotComponents is returned for pods that do not belong to the component asked about.
var ErrNotComponents = fmt.Errorf("that pod does not belong to this component")

// pods resolves a LogRequest to the component's pods (from the caches), refusing pods its
// query does not select: the logs endpoint must not read arbitrary pods.
func (m *Manager) pods(q Query, r LogRequest) (*Cluster, []*corev1.Pod, error) {
	c := m.cluster(r.Cluster)
	if c == nil || (q.Cluster != "" && q.Cluster != c.Name) {
		return nil, nil, fmt.Errorf("unknown cluster %q", r.Cluster)
	}
	var out []*corev1.Pod
	for _, obj := range selectObjects(c.idx.pods, r.Namespace, q.Selector) {
		p := obj.(*corev1.Pod)
		if (q.Namespace != "" && p.Namespace != q.Namespace) || !q.Selector.Matches(labels.Set(p.Labels)) {
			continue
		}
		if r.Pod != "" && p.Name == r.Pod {
			return c, []*corev1.Pod{p}, nil
		}
		if r.Workload != "" && ownedBy(c, p, r.Workload) {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return nil, nil, ErrNotComponents
	}
	return c, out, nil
}

func ownedBy(c *Cluster, p *corev1.Pod, workload string) bool {
	for _, o := range p.OwnerReferences {
		if o.Name == workload {
			return true
		}
		if o.Kind == "ReplicaSet" {
			if obj, ok, _ := c.idx.replicaSets.GetIndexer().GetByKey(p.Namespace + "/" + o.Name); ok {
				for _, ro := range obj.(*appsv1.ReplicaSet).OwnerReferences {
					if ro.Name == workload {
						return true
					}
				}
			}
		}
	}
	return false
}

func (m *Manager) cluster(name string) *Cluster {
	for _, c := range m.clusters {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// Logs reads the tail of the requested logs, capped, merged by time across pods.
func (m *Manager) Logs(ctx context.Context, q Query, r LogRequest) ([]LogLine, error) {
	c, pods, err := m.pods(q, r)
	if err != nil {
		return nil, err
	}
	tail := min(max(r.Tail, 1), MaxTailLines)
	var (
		mu    sync.Mutex
		lines []LogLine
		errs  []string
		wg    sync.WaitGroup
	)
	for _, p := range pods {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := c.podLogs(ctx, p, r.Container, tail, r.Previous)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, p.Name+": "+err.Error())
				return
			}
			lines = append(lines, got...)
		}()
	}
	wg.Wait()
	if len(lines) == 0 && len(errs) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	sort.SliceStable(lines, func(i, j int) bool { return lines[i].Time.Before(lines[j].Time) })
	if int64(len(lines)) > tail {
		lines = lines[int64(len(lines))-tail:]
	}
	return lines, nil
}

func (c *Cluster) podLogs(ctx context.Context, p *corev1.Pod, container string, tail int64, previous bool) ([]LogLine, error) {
	if container == "" && len(p.Spec.Containers) > 0 {
		container = p.Spec.Containers[0].Name
	}
	limit := int64(maxLogBytes)
	rc, err := c.client.CoreV1().Pods(p.Namespace).GetLogs(p.Name, &corev1.PodLogOptions{
		Container: container, TailLines: &tail, Previous: previous, Timestamps: true, LimitBytes: &limit}).Stream(ctx)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var out []LogLine
	sc := bufio.NewScanner(rc)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		out = append(out, parseLine(p.Name, sc.Text()))
	}
	return out, sc.Err()
}

// FollowLogs streams new lines of one pod's container to emit until ctx ends.
func (m *Manager) FollowLogs(ctx context.Context, q Query, r LogRequest, emit func(LogLine) error) error {
	c, pods, err := m.pods(q, r)
	if err != nil {
		return err
	}
	p := pods[0]
	container := r.Container
	if container == "" {
		container = p.Spec.Containers[0].Name
	}
	var tail int64 = 0
	rc, err := c.client.CoreV1().Pods(p.Namespace).GetLogs(p.Name, &corev1.PodLogOptions{Container: container, Follow: true, TailLines: &tail, Timestamps: true}).Stream(ctx)
	if err != nil {
		return err
	}
	defer rc.Close()
	sc := bufio.NewScanner(rc)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if err := emit(parseLine(p.Name, sc.Text())); err != nil {
			return err
		}
	}
	return sc.Err()
}

// parseLine splits the timestamp Kubernetes prefixes when asked for Timestamps.
func parseLine(pod, s string) LogLine {
	if ts, rest, ok := strings.Cut(s, " "); ok {
		if t, err := time.Parse(time.RFC3339Nano, ts); err == nil {
			return LogLine{Time: t, Pod: pod, Text: rest}
		}
	}
	return LogLine{Pod: pod, Text: s}
}
