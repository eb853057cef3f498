package triage

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
)

// How near a change must be to the onset to be suspected. A change made just after the onset
// is still a suspect within grace (the signals lag: scrape interval, rate window); one more
// than lookback before it is not, unless the pods of its revision are what is failing.
const (
	grace      = 2 * time.Minute
	lookback   = 2 * time.Hour
	halfLife   = 15 * time.Minute
	selfScore  = 0.3
	dependsLag = time.Minute // a dependency degrading this much after us still "degraded first"
)

// candidate is a suspect before ranking.
type candidate struct {
	Suspect
	score float64
	at    time.Time // the change it is about, for ties: the nearest to the onset wins
}

func suspects(in Input, onset time.Time) []candidate {
	var out []candidate
	out = append(out, changeSuspects(in.Service, onset)...)
	out = append(out, dependencySuspects(in, onset)...)
	out = append(out, capacitySuspects(in.Service, onset)...)
	out = append(out, infrastructureSuspects(in.Service, onset)...)
	out = append(out, selfSuspect(in, onset, out))
	return out
}

// proximity is 1 for a change at the onset, halving every halfLife before it; changes after
// the onset by more than grace score 0.
func proximity(at, onset time.Time) float64 {
	d := onset.Sub(at)
	switch {
	case d < -grace:
		return 0
	case d <= 0:
		return 1
	case d > lookback:
		return 0
	}
	return math.Exp2(-float64(d) / float64(halfLife))
}

// changeSuspects: deploys, config changes, scale-downs and restarts of the service itself.
func changeSuspects(s Service, onset time.Time) []candidate {
	var out []candidate
	latest := latestRollouts(s.Changes, onset)
	for i, ch := range s.Changes {
		if (ch.Kind == ChangeDeploy || ch.Kind == ChangeRollback || ch.Kind == ChangeRestart) && !latest[i] {
			continue // superseded before the onset: not what was running when it began
		}
		p := proximity(ch.At, onset)
		at := ch.At
		w := workloadOf(s, ch)
		ev := []Evidence{{Signal: "change", Detail: ch.Summary + byActor(ch.Actor), At: &at, Href: ch.Href}}
		var c candidate
		switch ch.Kind {
		case ChangeDeploy, ChangeRollback:
			direct := revisionEvidence(w, ch.Revision, ch.At)
			if p < 0.02 && len(direct) == 0 {
				continue // old and nothing of it is failing: not a suspect
			}
			score := 0.45 + 0.4*p
			if len(direct) == 0 {
				score, ev = damp(score, ev, s.Signals, ch.At, onset)
			}
			if began, ok := errorsBeganAfter(s.Signals, ch.At); ok {
				score += 0.1
				ev = append(ev, Evidence{Signal: "errors", Detail: "errors began " + humanize(began) + " after this change"})
			}
			if len(direct) > 0 {
				score = max(score, 0.6) + 0.3
			}
			c = candidate{score: score, Suspect: Suspect{Kind: KindDeploy, Summary: fmt.Sprintf("%s of %s to revision %d %s", verb(ch.Kind), ch.Workload, ch.Revision, relative(ch.At, onset)),
				Evidence: append(ev, direct...)}}
			c.Subject.Revision = ch.Revision
			if ch.FromRevision > 0 {
				c.Mitigations = []Mitigation{{Action: "rollback", Params: map[string]any{"revision": ch.FromRevision}, Label: fmt.Sprintf("Roll back to revision %d", ch.FromRevision)}}
			}
		case ChangeConfig:
			if p == 0 {
				continue
			}
			direct := restartedSince(w, ch.At)
			score := 0.45 + 0.4*p
			score, ev = damp(score, ev, s.Signals, ch.At, onset)
			if len(direct) > 0 {
				score += 0.1
			}
			c = candidate{score: score, Suspect: Suspect{Kind: KindConfig, Summary: fmt.Sprintf("%s changed %s", ch.Object, relative(ch.At, onset)), Evidence: append(ev, direct...)}}
			// Written in place: rolling back does not undo it; a restart once it is reverted does.
			c.Mitigations = []Mitigation{{Action: "restart", Label: "Restart (once the change is reverted)"}}
		case ChangeScale:
			if p == 0 || ch.Replicas >= ch.FromReplicas {
				continue // scaling out does not break a service
			}
			c = candidate{score: 0.35 + 0.45*p, Suspect: Suspect{Kind: KindScale, Summary: fmt.Sprintf("%s scaled in from %d to %d replicas %s", ch.Workload, ch.FromReplicas, ch.Replicas, relative(ch.At, onset)), Evidence: ev}}
			c.Mitigations = []Mitigation{{Action: "scale", Params: map[string]any{"replicas": ch.FromReplicas}, Label: fmt.Sprintf("Scale back to %d", ch.FromReplicas)}}
		case ChangeRestart:
			if p == 0 {
				continue
			}
			c = candidate{score: 0.25 + 0.35*p, Suspect: Suspect{Kind: KindDeploy, Summary: fmt.Sprintf("%s restarted %s", ch.Workload, relative(ch.At, onset)), Evidence: ev}}
		default:
			continue
		}
		c.at = ch.At
		c.Subject = Subject{Entity: s.Entity, Cluster: ch.Cluster, Namespace: ch.Namespace, Workload: ch.Workload, Revision: c.Subject.Revision}
		for i := range c.Mitigations {
			c.Mitigations[i].Cluster, c.Mitigations[i].Namespace, c.Mitigations[i].Workload = ch.Cluster, ch.Namespace, ch.Workload
		}
		out = append(out, c)
	}
	return out
}

// latestRollouts marks, per workload, the last rollout change made before the onset (within
// grace): earlier ones had been replaced by the time trouble began.
func latestRollouts(chs []Change, onset time.Time) map[int]bool {
	best := map[string]int{}
	for i, ch := range chs {
		if ch.Kind != ChangeDeploy && ch.Kind != ChangeRollback && ch.Kind != ChangeRestart || ch.At.After(onset.Add(grace)) {
			continue
		}
		k := ch.Cluster + "/" + ch.Namespace + "/" + ch.Workload
		if j, ok := best[k]; !ok || ch.At.After(chs[j].At) || ch.At.Equal(chs[j].At) && ch.Revision > chs[j].Revision {
			best[k] = i
		}
	}
	out := map[int]bool{}
	for _, i := range best {
		out[i] = true
	}
	return out
}

// errorsBeganAfter reports whether the service's error excursion began within a couple of
// minutes after at, and how long after.
func errorsBeganAfter(sig Signals, at time.Time) (time.Duration, bool) {
	t := excursion(sig.Errors, errorBad)
	if t.IsZero() || t.Before(at.Add(-15*time.Second)) || t.After(at.Add(grace)) {
		return 0, false
	}
	return max(0, t.Sub(at)).Round(time.Second), true
}

// damp lowers a change the service ran healthy after below the service itself: when nothing
// else explains the trouble, that change does not either.
func damp(score float64, ev []Evidence, sig Signals, at, onset time.Time) (float64, []Evidence) {
	ran, ok := ranHealthy(sig, at, onset)
	if !ok {
		return score, ev
	}
	return min(score*0.5, selfScore-0.02), append(ev, Evidence{Signal: "metrics", Detail: "the service ran healthy for " + humanize(ran) + " after this change"})
}

// ranHealthy reports whether the signals show the service serving well between a change and
// the onset, for long enough to tell (three samples, and a minute): a release that worked for
// a while is a weaker suspect than one that failed at once. It says for how long.
func ranHealthy(sig Signals, at, onset time.Time) (time.Duration, bool) {
	from, to := at.Add(grace), onset.Add(-30*time.Second)
	if to.Sub(from) < time.Minute {
		return 0, false
	}
	n := 0
	for _, p := range sig.Errors {
		if p.T.After(from) && p.T.Before(to) {
			if math.IsNaN(p.V) || p.V >= errorFloor {
				return 0, false
			}
			n++
		}
	}
	return onset.Sub(at).Round(time.Minute), n >= 3
}

// revisionEvidence is what says the pods of rev, not the others, are failing: its pods fail
// while older ones serve beside them, or they began failing as the change rolled out. Once
// every pod runs rev, a failure that began later (a leak, an OOM kill) is not the release's.
func revisionEvidence(w *Workload, rev int, at time.Time) []Evidence {
	if w == nil || rev == 0 {
		return nil
	}
	older := false
	for _, r := range w.PodRevisions {
		older = older || r != rev
	}
	var out []Evidence
	for _, p := range w.Pods {
		began := !p.Since.Before(at.Add(-grace)) && p.Since.Before(at.Add(grace))
		if p.Revision == rev && !p.OnBadNode && (older || began) {
			d := fmt.Sprintf("%s: %s of revision %d", p.Reason, plural(p.Count, "pod"), rev)
			if p.Probe != "" {
				d += " (" + p.Probe + ")"
			}
			out = append(out, Evidence{Signal: "pods", Detail: d})
		}
	}
	var mine, others float64
	var n, otherPods int
	for _, re := range w.RevisionErrors {
		if re.Revision == rev {
			mine, n = re.Ratio, re.Pods
		} else if re.Pods > 0 {
			others = max(others, re.Ratio)
			otherPods += re.Pods
		}
	}
	// Only against older pods serving beside them: once a rollout completes, every pod is the
	// new revision and its error ratio is the service's.
	if n > 0 && otherPods > 0 && mine >= errorFloor*2 && mine > 3*others+0.01 {
		out = append(out, Evidence{Signal: "metrics", Detail: fmt.Sprintf("revision %d's pods fail %s of requests, the older pods %s", rev, percent(mine), percent(others))})
	}
	return out
}

// restartedSince: pods that began failing after a config change.
func restartedSince(w *Workload, t time.Time) []Evidence {
	if w == nil {
		return nil
	}
	var out []Evidence
	for _, p := range w.Pods {
		if !p.Since.Before(t.Add(-grace)) && !p.OnBadNode {
			out = append(out, Evidence{Signal: "pods", Detail: fmt.Sprintf("%s: %s since the change", p.Reason, plural(p.Count, "pod"))})
		}
	}
	return out
}

func workloadOf(s Service, ch Change) *Workload {
	for i, w := range s.Workloads {
		if w.Cluster == ch.Cluster && w.Namespace == ch.Namespace && w.Name == ch.Workload {
			return &s.Workloads[i]
		}
	}
	return nil
}

// dependencySuspects: dependencies that degraded before (or with) the service, or whose
// spans the errors start in.
func dependencySuspects(in Input, onset time.Time) []candidate {
	origins := map[string]int{}
	total := 0
	for _, o := range in.Origins {
		origins[o.Entity] += o.Spans
		total += o.Spans
	}
	var out []candidate
	for _, d := range in.Dependencies {
		dOnset := Onset(d, in.Now.Add(-in.Window))
		health, _ := healthOf(d)
		share := 0.0
		if total > 0 {
			share = float64(origins[d.Entity]) / float64(total)
		}
		if dOnset.IsZero() && share < 0.3 && (health == Healthy || health == Unknown || health == Progressing) {
			continue
		}
		c := candidate{Suspect: Suspect{Kind: KindDependency, Subject: Subject{Entity: d.Entity}}}
		var ev []Evidence
		switch {
		case !dOnset.IsZero() && !dOnset.After(onset.Add(dependsLag)):
			c.score = 0.6
			if onset.Sub(dOnset) >= 30*time.Second {
				c.score = 0.7
			}
			at := dOnset
			ev = append(ev, Evidence{Signal: "onset", Detail: fmt.Sprintf("%s degraded %s", short(d.Entity), relative(dOnset, onset)), At: &at})
		case !dOnset.IsZero():
			c.score = 0.25 // it degraded after us: more likely a victim too
			at := dOnset
			ev = append(ev, Evidence{Signal: "onset", Detail: fmt.Sprintf("%s degraded %s", short(d.Entity), relative(dOnset, onset)), At: &at})
		default:
			c.score = 0.45
			if health != Healthy && health != Unknown {
				ev = append(ev, Evidence{Signal: "health", Detail: short(d.Entity) + " is " + health})
			}
		}
		ev = append(ev, signalEvidence(d, dOnset)...)
		if share >= 0.3 {
			c.score += 0.25 * share
			ev = append(ev, Evidence{Signal: "traces", Detail: fmt.Sprintf("%s of recent error spans start in %s", percent(share), short(d.Entity))})
		}
		what := "failing"
		if !errorsRose(d.Signals) && latencyRose(d.Signals) {
			what = "slow"
		}
		c.Summary = fmt.Sprintf("dependency %s is %s", short(d.Entity), what)
		// The dependency's own likeliest cause, so the engineer knows where to look next.
		if sub := changeSuspects(d, orNow(dOnset, in.Now)); len(sub) > 0 {
			top := rank(sub)[0]
			c.Summary += ": " + top.Summary
			ev = append(ev, top.Evidence[0])
		}
		c.Evidence = ev
		c.Mitigations = []Mitigation{{Action: "open", Entity: d.Entity, Label: "Triage " + short(d.Entity)}}
		c.at = dOnset
		out = append(out, c)
	}
	return out
}

func signalEvidence(s Service, onset time.Time) []Evidence {
	var out []Evidence
	if onset.IsZero() {
		return nil
	}
	if b, n, ok := around(s.Signals.Errors, onset); ok && n > b+0.01 && n >= errorFloor {
		out = append(out, Evidence{Signal: "errors", Detail: fmt.Sprintf("%s error ratio rose from %s to %s", short(s.Entity), percent(b), percent(n))})
	}
	if b, n, ok := around(s.Signals.Latency, onset); ok && latencyBad(n, b) {
		out = append(out, Evidence{Signal: "latency", Detail: fmt.Sprintf("%s p95 latency rose from %s to %s", short(s.Entity), millis(b), millis(n))})
	}
	return out
}

func errorsRose(s Signals) bool  { return !excursion(s.Errors, errorBad).IsZero() }
func latencyRose(s Signals) bool { return !excursion(s.Latency, latencyBad).IsZero() }

// capacitySuspects: an autoscaler at its ceiling, OOM kills, CPU at its limit.
func capacitySuspects(s Service, onset time.Time) []candidate {
	var out []candidate
	for _, w := range s.Workloads {
		subject := Subject{Entity: s.Entity, Cluster: w.Cluster, Namespace: w.Namespace, Workload: w.Name}
		scaleOut := func(label string) Mitigation {
			n := w.Desired + max(1, w.Desired/2)
			if w.HPAMax > 0 {
				return Mitigation{Action: "scale", Cluster: w.Cluster, Namespace: w.Namespace, Workload: w.Name,
					Params: map[string]any{"min": w.HPAMin, "max": w.HPAMax + max(1, w.HPAMax/2)}, Label: label}
			}
			return Mitigation{Action: "scale", Cluster: w.Cluster, Namespace: w.Namespace, Workload: w.Name, Params: map[string]any{"replicas": n}, Label: label}
		}
		for _, p := range w.Pods {
			if p.Reason != "OOMKilled" {
				continue
			}
			at := p.Since
			score := 0.75
			if proximity(at, onset) > 0.5 {
				score = 0.88
			}
			out = append(out, candidate{score: score, at: at, Suspect: Suspect{Kind: KindCapacity, Subject: subject,
				Summary:     fmt.Sprintf("%s killed for running out of memory", plural(p.Count, "pod")),
				Evidence:    []Evidence{{Signal: "pods", Detail: fmt.Sprintf("OOMKilled: %s of %s", plural(p.Count, "pod"), w.Name), At: &at}},
				Mitigations: []Mitigation{{Action: "restart", Cluster: w.Cluster, Namespace: w.Namespace, Workload: w.Name, Label: "Restart (and raise the memory limit)"}}}})
		}
		if w.HPAMax > 0 && w.HPACurrent >= w.HPAMax {
			score := 0.5
			if latencyRose(s.Signals) {
				score = 0.65
			}
			out = append(out, candidate{score: score, Suspect: Suspect{Kind: KindCapacity, Subject: subject,
				Summary:     fmt.Sprintf("the autoscaler of %s is at its maximum of %d replicas", w.Name, w.HPAMax),
				Evidence:    []Evidence{{Signal: "hpa", Detail: fmt.Sprintf("%d of at most %d replicas", w.HPACurrent, w.HPAMax)}},
				Mitigations: []Mitigation{scaleOut("Raise the autoscaler's maximum")}}})
		}
		if w.CPUNearLimit >= 0.9 {
			out = append(out, candidate{score: 0.5, Suspect: Suspect{Kind: KindCapacity, Subject: subject,
				Summary:     fmt.Sprintf("%s's pods use %s of their CPU limit", w.Name, percent(w.CPUNearLimit)),
				Evidence:    []Evidence{{Signal: "metrics", Detail: "CPU throttling likely at " + percent(w.CPUNearLimit) + " of the limit"}},
				Mitigations: []Mitigation{scaleOut("Scale out")}}})
		}
	}
	return out
}

// infrastructureSuspects: nodes running the pods that are not ready, clusters out of reach.
func infrastructureSuspects(s Service, onset time.Time) []candidate {
	var out []candidate
	for _, w := range s.Workloads {
		subject := Subject{Entity: s.Entity, Cluster: w.Cluster, Namespace: w.Namespace, Workload: w.Name}
		for _, n := range w.Nodes {
			if n.Pods == 0 {
				continue
			}
			at := n.Since
			sub := subject
			sub.Node = n.Name
			score := 0.85
			if proximity(at, onset) > 0.9 {
				score = 0.95 // the node failing is when the trouble began
			}
			out = append(out, candidate{score: score, at: at, Suspect: Suspect{Kind: KindInfrastructure, Subject: sub,
				Summary:     fmt.Sprintf("node %s is %s with %s of %s on it", n.Name, ConditionWords(n.Condition), plural(n.Pods, "pod"), w.Name),
				Evidence:    []Evidence{{Signal: "node", Detail: fmt.Sprintf("%s: %s", n.Condition, n.Message), At: &at}},
				Mitigations: []Mitigation{{Action: "restart", Cluster: w.Cluster, Namespace: w.Namespace, Workload: w.Name, Label: "Restart (pods move to healthy nodes)"}}}})
		}
		if w.Unreachable {
			out = append(out, candidate{score: 0.55, Suspect: Suspect{Kind: KindInfrastructure, Subject: Subject{Entity: s.Entity, Cluster: w.Cluster},
				Summary:  fmt.Sprintf("cluster %s cannot be reached", w.Cluster),
				Evidence: []Evidence{{Signal: "cluster", Detail: "the portal's view of " + w.Cluster + " is stale"}}}})
		}
	}
	return out
}

// selfSuspect is the service itself: the answer when nothing points elsewhere.
func selfSuspect(in Input, onset time.Time, others []candidate) candidate {
	s := in.Service
	c := candidate{score: selfScore, Suspect: Suspect{Kind: KindSelf, Subject: Subject{Entity: s.Entity}}}
	// A change the signals say the service ran healthy after (damped below 0.45) does not
	// explain this: without another, there is "no change found".
	changed := false
	for _, o := range others {
		if (o.Kind == KindDeploy || o.Kind == KindConfig || o.Kind == KindScale) && o.score >= 0.45 {
			changed = true
		}
	}
	c.Summary = short(s.Entity) + " itself"
	if !changed {
		c.Summary += ": no change found"
	}
	c.Evidence = signalEvidence(s, onset)
	total, own := 0, 0
	for _, o := range in.Origins {
		total += o.Spans
		if o.Entity == s.Entity {
			own += o.Spans
		}
	}
	if total > 0 && float64(own)/float64(total) >= 0.5 {
		c.score += 0.2
		c.Evidence = append(c.Evidence, Evidence{Signal: "traces", Detail: fmt.Sprintf("%s of recent error spans start in %s itself", percent(float64(own)/float64(total)), short(s.Entity))})
	}
	for _, w := range s.Workloads {
		if w.Unreachable {
			continue
		}
		c.Mitigations = append(c.Mitigations, Mitigation{Action: "restart", Cluster: w.Cluster, Namespace: w.Namespace, Workload: w.Name, Label: "Restart " + w.Name})
		if w.HPAMax == 0 {
			c.Mitigations = append(c.Mitigations, Mitigation{Action: "scale", Cluster: w.Cluster, Namespace: w.Namespace, Workload: w.Name,
				Params: map[string]any{"replicas": w.Desired + max(1, w.Desired/2)}, Label: "Scale out"})
		}
	}
	return c
}

// rank orders the candidates, most likely first; among equals, the change nearest the onset.
func rank(cs []candidate) []Suspect {
	sort.SliceStable(cs, func(i, j int) bool {
		if cs[i].score != cs[j].score {
			return cs[i].score > cs[j].score
		}
		return cs[i].at.After(cs[j].at)
	})
	out := make([]Suspect, len(cs))
	for i, c := range cs {
		c.Rank = i + 1
		c.Confidence = math.Round(min(c.score, 0.99)*100) / 100
		if c.Evidence == nil {
			c.Evidence = []Evidence{}
		}
		if c.Mitigations == nil {
			c.Mitigations = []Mitigation{}
		}
		out[i] = c.Suspect
	}
	return out
}

func verb(kind string) string {
	if kind == ChangeRollback {
		return "rollback"
	}
	return "deploy"
}

func byActor(a string) string {
	if a == "" {
		return ""
	}
	return " by " + a
}

// relative says when t was against the onset, in words.
func relative(t, onset time.Time) string {
	d := onset.Sub(t).Round(time.Second)
	switch {
	case d > 0:
		return humanize(d) + " before the onset"
	case d < 0:
		return humanize(-d) + " after the onset"
	}
	return "at the onset"
}

func humanize(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Minutes()))
	}
	return fmt.Sprintf("%.1f h", d.Hours())
}

// short is a ref without its kind and default namespace: component:default/payment → payment.
func short(ref string) string {
	if i := strings.IndexByte(ref, ':'); i >= 0 {
		ref = ref[i+1:]
	}
	return strings.TrimPrefix(ref, "default/")
}

func orNow(t, now time.Time) time.Time {
	if t.IsZero() {
		return now
	}
	return t
}

// timeline is every change of the service and its dependencies in the window, with the
// alerts' starts, oldest first.
func timeline(in Input) []Entry {
	from := in.Now.Add(-in.Window)
	var out []Entry
	add := func(s Service) {
		for _, ch := range s.Changes {
			if ch.At.Before(from) {
				continue
			}
			ent := ch.Entity
			if ent == "" {
				ent = s.Entity
			}
			out = append(out, Entry{At: ch.At, Kind: ch.Kind, Entity: ent, Summary: ch.Summary, Actor: ch.Actor, Href: ch.Href})
		}
		for _, a := range s.Alerts {
			if a.Firing && !a.Since.Before(from) {
				out = append(out, Entry{At: a.Since, Kind: ChangeAlert, Entity: s.Entity, Summary: a.Name + " started firing"})
			}
		}
	}
	add(in.Service)
	for _, d := range in.Dependencies {
		add(d)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out
}

// ConditionWords says a node condition in words: NotReady → "not ready", MemoryPressure → "under memory pressure".
func ConditionWords(c string) string {
	if c == "NotReady" {
		return "not ready"
	}
	var b strings.Builder
	for i, r := range c {
		if i > 0 && r >= 'A' && r <= 'Z' {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return "under " + strings.ToLower(b.String())
}
