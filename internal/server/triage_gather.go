package server

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/portico-dev/portico/internal/access"
	"github.com/portico-dev/portico/internal/actions"
	"github.com/portico-dev/portico/internal/alerts"
	"github.com/portico-dev/portico/internal/audit"
	"github.com/portico-dev/portico/internal/catalog"
	"github.com/portico-dev/portico/internal/cluster"
	"github.com/portico-dev/portico/internal/metrics"
	"github.com/portico-dev/portico/internal/store"
	"github.com/portico-dev/portico/internal/triage"
)

// maxTriageDependencies bounds how many dependencies one triage reads the signals of.
const maxTriageDependencies = 8

// gathered is one triage's input and what the page shows besides the ranking.
type gathered struct {
	in     triage.Input
	alerts []alerts.Alert // the service's, for the page
}

// gatherTriage reads everything triage needs about rec, each backend within its budget and
// all in parallel; what cannot be read is named in Missing and the rest is still used.
// fingerprint, when set, picks the alert whose start is the onset (ok is false when that
// alert is not firing for the service).
func (s *Server) gatherTriage(ctx context.Context, snap *catalog.Snapshot, sc *access.Scope, rec *catalog.Record, fingerprint string) (g gathered, ok bool) {
	now := time.Now()
	g.in = triage.Input{Now: now, Window: metrics.TriageRange.Dur, Service: triage.Service{Entity: rec.Entity.Ref().String()}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	missing := map[string]bool{}
	miss := func(name string) {
		mu.Lock()
		missing[name] = true
		mu.Unlock()
	}
	go1 := func(f func()) {
		wg.Add(1)
		go func() { defer wg.Done(); f() }()
	}

	deps := declaredDependencies(snap, sc, rec)
	depState := make(map[string]*triage.Service)
	signalsOf := func(r *catalog.Record, into *triage.Service) {
		if s.Metrics == nil {
			return
		}
		go1(func() {
			sig := s.Metrics.Signals(ctx, s.metricsTarget(r.Entity), metrics.TriageRange, now)
			if sig.Err != "" {
				miss("prometheus")
			}
			mu.Lock()
			defer mu.Unlock()
			into.Signals = triage.Signals{Errors: points(sig.Errors), Latency: points(sig.Latency)}
			applyPodErrors(into, sig.Pods)
			for i := range into.Workloads {
				into.Workloads[i].CPUNearLimit = sig.CPUOfLimit
			}
		})
	}
	// The cluster's view comes first: it is in memory, and the signals attach to it.
	s.clusterState(&g.in.Service, rec)
	signalsOf(rec, &g.in.Service)
	for _, d := range deps {
		st := &triage.Service{Entity: d.Entity.Ref().String()}
		s.clusterState(st, d)
		depState[st.Entity] = st
		signalsOf(d, st)
	}
	var allAlerts alerts.Result
	if s.Alerts != nil {
		go1(func() {
			allAlerts = s.Alerts.All(ctx)
			for _, e := range allAlerts.Errors {
				miss(strings.ToLower(strings.SplitN(e, ":", 2)[0])) // "Prometheus: …", "Alertmanager: …"
			}
		})
	}
	if s.Traces != nil {
		service, _ := rec.Entity.JaegerService()
		go1(func() {
			origins, err := s.Traces.ErrorOrigins(ctx, service, 15*time.Minute, 20)
			if err != nil {
				miss("jaeger")
				return
			}
			idx := s.services.of(snap)
			mu.Lock()
			defer mu.Unlock()
			for _, o := range origins {
				ref := ""
				if r, ok := idx[o.Service]; ok {
					ref = r.Entity.Ref().String()
				}
				g.in.Origins = append(g.in.Origins, triage.Origin{Entity: ref, Spans: o.Spans})
			}
		})
		go1(func() {
			// Dependencies the calls show but the catalog does not declare are triaged too.
			// Their signals are read after this answer, so it gets half the budget: a hanging
			// Jaeger must not double the page's time.
			tctx, cancel := context.WithTimeout(ctx, s.Traces.Budget()/2)
			defer cancel()
			links, err := s.Traces.Dependencies(tctx, time.Hour)
			if err != nil {
				miss("jaeger")
				return
			}
			idx := s.services.of(snap)
			for _, l := range links {
				r, ok := idx[l.Child]
				if l.Parent != service || !ok || r == rec || !sc.Record(r) {
					continue
				}
				mu.Lock()
				_, seen := depState[r.Entity.Ref().String()]
				full := len(depState) >= maxTriageDependencies
				var st *triage.Service
				if !seen && !full {
					st = &triage.Service{Entity: r.Entity.Ref().String()}
					depState[st.Entity] = st
				}
				mu.Unlock()
				if st != nil {
					s.clusterState(st, r)
					signalsOf(r, st)
				}
			}
		})
	}
	wg.Wait()

	// The portal's own records, now that every dependency is known (the observed ones came
	// with Jaeger's answer): one audit query and one CI query for them all.
	all := map[string]*triage.Service{g.in.Service.Entity: &g.in.Service}
	for ref, st := range depState {
		all[ref] = st
	}
	if s.Audit != nil {
		refs := make([]string, 0, len(all))
		for ref := range all {
			refs = append(refs, ref)
		}
		entries, err := s.Audit.List(ctx, audit.Filter{Entities: refs, Since: now.Add(-metrics.TriageRange.Dur), Result: audit.Succeeded, Limit: 200})
		if err != nil {
			missing["audit log"] = true
		}
		auditChanges(entries, all)
	}
	if s.Pipelines != nil {
		byProject := map[string]*triage.Service{}
		for ref, st := range all {
			if r, ok := snap.Get(mustRef(ref)); ok {
				for _, p := range r.Entity.ProjectSlugs() {
					byProject[p] = st
				}
			}
		}
		projects := make([]string, 0, len(byProject))
		for p := range byProject {
			projects = append(projects, p)
		}
		ds, err := s.Pipelines.Deployments(ctx, projects)
		if err != nil {
			missing["pipelines"] = true
		}
		for _, d := range ds {
			if st := byProject[d.Project]; st != nil && d.UpdatedAt != nil {
				st.Changes = append(st.Changes, pipelineChange(d, st.Entity))
			}
		}
	}
	for _, st := range depState {
		g.in.Dependencies = append(g.in.Dependencies, *st)
	}
	sort.Slice(g.in.Dependencies, func(i, j int) bool { return g.in.Dependencies[i].Entity < g.in.Dependencies[j].Entity })
	ok = fingerprint == ""
	g.alerts = matcherOf(rec.Entity).Filter(allAlerts.Alerts)
	g.in.Service.Alerts = triageAlerts(g.alerts)
	for i, d := range g.in.Dependencies {
		if r, found := snap.Get(mustRef(d.Entity)); found {
			g.in.Dependencies[i].Alerts = triageAlerts(matcherOf(r.Entity).Filter(allAlerts.Alerts))
		}
	}
	for _, a := range g.alerts {
		if fingerprint != "" && a.Fingerprint() == fingerprint {
			g.in.AlertOnset, ok = a.Since, true
		}
	}
	for name := range missing {
		g.in.Missing = append(g.in.Missing, name)
	}
	if s.Metrics == nil {
		g.in.Missing = append(g.in.Missing, "prometheus (not configured)")
	}
	if s.Traces == nil {
		g.in.Missing = append(g.in.Missing, "jaeger (not configured)")
	}
	sort.Strings(g.in.Missing)
	return g, ok
}

// declaredDependencies are the components rec's catalog entry says it depends on and the
// user may view.
func declaredDependencies(snap *catalog.Snapshot, sc *access.Scope, rec *catalog.Record) []*catalog.Record {
	var out []*catalog.Record
	for _, r := range snap.Related(rec.Entity, catalog.RelDependsOn) {
		if observes(r.Entity) && sc.Record(r) && len(out) < maxTriageDependencies {
			out = append(out, r)
		}
	}
	return out
}

func points(ps []metrics.Point) []triage.Point {
	if ps == nil {
		return nil
	}
	out := make([]triage.Point, len(ps))
	for i, p := range ps {
		out[i] = triage.Point{T: p.T, V: p.V}
	}
	return out
}

// applyPodErrors sums the per-pod error ratios by the revision each pod runs.
func applyPodErrors(st *triage.Service, pods map[string]metrics.PodErrors) {
	for i := range st.Workloads {
		w := &st.Workloads[i]
		type acc struct {
			errs, rate float64
			pods       int
		}
		by := map[int]*acc{}
		for name, rev := range w.PodRevisions {
			pe, ok := pods[name]
			if !ok {
				continue
			}
			a := by[rev]
			if a == nil {
				a = &acc{}
				by[rev] = a
			}
			a.errs += pe.Ratio * pe.Rate
			a.rate += pe.Rate
			a.pods++
		}
		for rev, a := range by {
			if a.rate > 0 {
				w.RevisionErrors = append(w.RevisionErrors, triage.RevisionErrors{Revision: rev, Ratio: a.errs / a.rate, Pods: a.pods})
			}
		}
		sort.Slice(w.RevisionErrors, func(i, j int) bool { return w.RevisionErrors[i].Revision > w.RevisionErrors[j].Revision })
	}
}

// clusterState fills in what the caches say of the entity: workloads, pods, nodes, and the
// changes the clusters keep (revisions, config writes, autoscaler rescales, warnings).
func (s *Server) clusterState(st *triage.Service, rec *catalog.Record) {
	rt, mapped, err := s.runtimeOf(rec.Entity)
	if !mapped || err != nil || s.Clusters == nil {
		st.Health = triage.Unknown
		return
	}
	st.Health = rt.Health.Level.String()
	if rt.Health.Reason != "" && st.Health != triage.Healthy {
		st.Reasons = append(st.Reasons, rt.Health.Reason)
	}
	q, _, _ := cluster.QueryFor(rec.Entity.Metadata.Annotations)
	ref := rec.Entity.Ref()
	for _, cr := range rt.Clusters {
		cl := s.Clusters.Cluster(cr.Name)
		if cl == nil {
			continue
		}
		var nodes map[string]cluster.NodeProblem
		if cr.Reachability.Synced {
			nodes = cl.NodeProblems()
		}
		for _, w := range cr.Workloads {
			tw := triage.Workload{Cluster: cr.Name, Namespace: w.Namespace, Name: w.Name, Desired: w.Desired,
				Unreachable: cr.Reachability.Probed && !cr.Reachability.Reachable, PodRevisions: map[string]int{}}
			tw.Revision, _ = strconv.Atoi(w.Revision)
			if w.HPA != nil {
				tw.HPAMin, tw.HPAMax, tw.HPACurrent = w.HPA.Min, w.HPA.Max, w.HPA.Current
			}
			tw.Pods = podProblems(w, cr.Events, nodes)
			onNode := map[string]int{}
			for _, p := range w.Pods {
				tw.PodRevisions[p.Name] = p.Revision
				onNode[p.Node]++
			}
			for name, n := range nodes {
				if onNode[name] > 0 {
					tw.Nodes = append(tw.Nodes, triage.NodeProblem{Cluster: cr.Name, Name: name, Condition: n.Condition, Message: n.Message, Since: n.Since, Pods: onNode[name]})
					st.Changes = append(st.Changes, triage.Change{At: n.Since, Kind: triage.ChangeNode, Cluster: cr.Name,
						Summary: fmt.Sprintf("node %s %s (%d pods of %s)", name, triage.ConditionWords(n.Condition), onNode[name], w.Name)})
				}
			}
			st.Workloads = append(st.Workloads, tw)
			if w.Kind == "Deployment" {
				if d, ok := cl.Deployment(q, w.Namespace, w.Name); ok {
					st.Changes = append(st.Changes, deploymentChanges(cl, d, ref, cr.Name)...)
				}
			}
		}
		for _, e := range cr.Events {
			st.Changes = append(st.Changes, triage.Change{At: e.Last, Kind: triage.ChangeWarning, Cluster: cr.Name, Object: e.Object,
				Summary: fmt.Sprintf("%s %s: %s", e.Object, e.Reason, e.Message)})
		}
	}
}

// podProblems groups the pods that do not serve by reason and revision, with the probe the
// events say is failing.
func podProblems(w cluster.Workload, events []cluster.Event, badNodes map[string]cluster.NodeProblem) []triage.PodProblem {
	probe := map[string]string{}
	for _, e := range events {
		if e.Reason == "Unhealthy" && strings.HasPrefix(e.Object, "Pod/") {
			probe[strings.TrimPrefix(e.Object, "Pod/")] = e.Message
		}
	}
	var out []triage.PodProblem
	idx := map[string]int{}
	for _, p := range w.Pods {
		if p.Reason == "" {
			continue
		}
		since := p.Created
		if p.Reason == "OOMKilled" && !p.TerminatedAt.IsZero() {
			since = p.TerminatedAt
		}
		_, onBad := badNodes[p.Node]
		key := p.Reason + "/" + strconv.Itoa(p.Revision) + "/" + strconv.FormatBool(onBad)
		i, ok := idx[key]
		if !ok {
			idx[key] = len(out)
			out = append(out, triage.PodProblem{Reason: p.Reason, Revision: p.Revision, Since: since, Probe: probe[p.Name], OnBadNode: onBad})
			i = len(out) - 1
		}
		out[i].Count++
		if since.Before(out[i].Since) {
			out[i].Since = since
		}
		if out[i].Probe == "" {
			out[i].Probe = probe[p.Name]
		}
	}
	return out
}

func deploymentChanges(cl *cluster.Cluster, d cluster.Deployment, ref catalog.Ref, clusterName string) []triage.Change {
	var out []triage.Change
	base := triage.Change{Entity: ref.String(), Cluster: clusterName, Namespace: d.Object.Namespace, Workload: d.Object.Name}
	href := workloadHref(ref, clusterName, d.Object.Namespace, d.Object.Name)
	for _, r := range cl.Rollouts(d, actions.AnnotationAuditID) {
		ch := base
		ch.At, ch.Kind, ch.Revision, ch.FromRevision, ch.Href = r.At, r.Kind, r.Revision, r.FromRevision, href
		ch.Summary = fmt.Sprintf("%s %s revision %d (%s)", d.Object.Name, r.Kind, r.Revision, strings.Join(r.Images, ", "))
		if r.Kind == "rollback" {
			ch.Summary = fmt.Sprintf("%s rolled back to revision %d (%s)", d.Object.Name, r.Revision, strings.Join(r.Images, ", "))
		}
		if r.Cause != "" {
			ch.Summary += ": " + r.Cause
		}
		ch.AuditID = r.AuditID
		out = append(out, ch)
	}
	if cfg, known := cl.ConfigChanges(d); known {
		for _, c := range cfg {
			ch := base
			ch.At, ch.Kind, ch.Object = c.At, triage.ChangeConfig, c.Kind+" "+c.Namespace+"/"+c.Name
			ch.Summary = fmt.Sprintf("%s %s changed (values not shown)", c.Kind, c.Name)
			out = append(out, ch)
		}
	}
	for _, e := range cl.ScalingEvents(d) {
		out = append(out, triage.Change{At: e.Last, Kind: triage.ChangeHPA, Entity: ref.String(), Cluster: clusterName, Namespace: d.Object.Namespace,
			Workload: d.Object.Name, Summary: "autoscaler: " + e.Message})
	}
	return out
}

// pipelineChange is a deployment CI reported (with its time), for the timeline.
func pipelineChange(d store.Deployment, entity string) triage.Change {
	ch := triage.Change{At: *d.UpdatedAt, Kind: triage.ChangePipeline, Entity: entity, Actor: d.Creator,
		Summary: fmt.Sprintf("%s: deployment of %s to %s %s", d.Project, orDefault(d.Image, shortSHA(d.Commit)), d.Environment, d.Status)}
	if catalog.LinkURL(d.URL) { // from a CI payload: data, not markup
		ch.Href = d.URL
	}
	return ch
}

var replicasIn = regexp.MustCompile(`replicas (\d+)`)

// auditChanges adds what the audit log knows to each service: who made each revision, and
// the scales made through the portal.
func auditChanges(entries []audit.Entry, services map[string]*triage.Service) {
	byID := map[string]audit.Entry{}
	for _, e := range entries {
		byID[strconv.Itoa(e.ID)] = e
	}
	apply := func(s *triage.Service) {
		for i, ch := range s.Changes {
			if e, ok := byID[ch.AuditID]; ok && ch.AuditID != "" {
				s.Changes[i].Actor = e.Actor
				if e.Reason != "" {
					s.Changes[i].Summary += " — " + e.Reason
				}
				s.Changes[i].Href = auditHref("id", ch.AuditID)
			}
		}
		for _, e := range entries {
			if e.Entity != s.Entity || e.Action != "scale" {
				continue
			}
			ch := triage.Change{At: e.StartedAt, Kind: triage.ChangeScale, Entity: e.Entity, Cluster: e.Cluster, Namespace: e.Namespace, Workload: e.Name,
				Summary: fmt.Sprintf("%s scaled: %s → %s", e.Name, e.Before, e.After), Actor: e.Actor, Href: auditHref("id", strconv.Itoa(e.ID))}
			if m := replicasIn.FindStringSubmatch(e.Before); m != nil {
				n, _ := strconv.Atoi(m[1])
				ch.FromReplicas = int32(n)
			}
			if m := replicasIn.FindStringSubmatch(e.After); m != nil {
				n, _ := strconv.Atoi(m[1])
				ch.Replicas = int32(n)
			}
			s.Changes = append(s.Changes, ch)
		}
	}
	for _, st := range services {
		apply(st)
	}
}

func triageAlerts(as []alerts.Alert) []triage.Alert {
	var out []triage.Alert
	for _, a := range as {
		if a.Silenced || a.Inhibited {
			continue // someone is on it, or a louder alert explains it
		}
		out = append(out, triage.Alert{Name: a.Name, Firing: a.State == "firing", Since: a.Since})
	}
	return out
}

func mustRef(s string) catalog.Ref {
	r, _ := catalog.ParseRef(s, "", catalog.DefaultNamespace)
	return r
}

// jaegerIndex maps the traces' service names to components, built once per snapshot.
type jaegerIndex struct {
	mu   sync.Mutex
	snap *catalog.Snapshot
	idx  map[string]*catalog.Record
}

func (j *jaegerIndex) of(snap *catalog.Snapshot) map[string]*catalog.Record {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.snap != snap {
		idx := map[string]*catalog.Record{}
		for _, r := range snap.Records() {
			if observes(r.Entity) {
				name, _ := r.Entity.JaegerService()
				idx[name] = r
			}
		}
		j.snap, j.idx = snap, idx
	}
	return j.idx
}
