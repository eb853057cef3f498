// Package dora computes the four delivery metrics from the changes that reached production:
// deployment frequency, lead time for changes (commit to running in production), change
// failure rate (deploys followed by a rollback or reported failed within a window) and time to
// restore (from such a deploy to the rollback or next good deploy). It is pure.
package dora

import (
	"math"
	"slices"
	"sort"
	"time"
)

// Change is something that reached production.
type Change struct {
	Target   string    // the workload (or environment) changed: cluster/namespace/name
	At       time.Time // when it reached production
	Kind     string    // deploy or rollback
	CommitAt time.Time // when the deployed commit was made; zero when unknown
	Failed   bool      // reported failed (a failed rollout or CI deployment)
}

// Week is one week's metrics.
type Week struct {
	Start       time.Time
	Deploys     int
	Failures    int
	LeadTime    time.Duration // median; 0 without known commits
	FailureRate float64       // NaN without deploys
	Restore     time.Duration // median; 0 without failures restored
}

// Summary is the metrics over the whole window and per week.
type Summary struct {
	Weeks       []Week
	Deploys     int
	PerWeek     float64
	LeadTime    time.Duration
	FailureRate float64
	Restore     time.Duration
	Failures    int
}

// Compute summarises changes over the last weeks weeks before now. A deploy counts as failed
// when it was reported failed or when its target was rolled back within window after it (and
// before another deploy); it is restored by that rollback or the next successful deploy.
func Compute(changes []Change, now time.Time, weeks int, window time.Duration) Summary {
	cs := slices.Clone(changes)
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].At.Before(cs[j].At) })
	start := now.Truncate(24*time.Hour).AddDate(0, 0, -7*weeks+1)
	type outcome struct {
		failed  bool
		restore time.Duration
	}
	out := make([]outcome, len(cs))
	for i, c := range cs {
		if c.Kind != "deploy" {
			continue
		}
		failed := c.Failed
		for j := i + 1; j < len(cs); j++ {
			n := cs[j]
			if n.Target != c.Target {
				continue
			}
			if n.Kind == "rollback" && n.At.Sub(c.At) <= window {
				failed = true
				out[i].restore = n.At.Sub(c.At)
				break
			}
			if n.Kind == "deploy" {
				if failed && !n.Failed {
					out[i].restore = n.At.Sub(c.At)
				}
				break
			}
		}
		out[i].failed = failed
	}
	s := Summary{Weeks: make([]Week, weeks)}
	for w := range s.Weeks {
		s.Weeks[w].Start = start.AddDate(0, 0, 7*w)
	}
	var allLead, allRestore []time.Duration
	weekLead := make([][]time.Duration, weeks)
	weekRestore := make([][]time.Duration, weeks)
	for i, c := range cs {
		if c.Kind != "deploy" || c.At.Before(start) || c.At.After(now) {
			continue
		}
		w := int(c.At.Sub(start) / (7 * 24 * time.Hour))
		if w < 0 || w >= weeks {
			continue
		}
		s.Deploys++
		s.Weeks[w].Deploys++
		if !c.CommitAt.IsZero() && c.At.After(c.CommitAt) {
			weekLead[w] = append(weekLead[w], c.At.Sub(c.CommitAt))
			allLead = append(allLead, c.At.Sub(c.CommitAt))
		}
		if out[i].failed {
			s.Failures++
			s.Weeks[w].Failures++
			if out[i].restore > 0 {
				weekRestore[w] = append(weekRestore[w], out[i].restore)
				allRestore = append(allRestore, out[i].restore)
			}
		}
	}
	for w := range s.Weeks {
		s.Weeks[w].LeadTime, s.Weeks[w].Restore = median(weekLead[w]), median(weekRestore[w])
		s.Weeks[w].FailureRate = math.NaN()
		if s.Weeks[w].Deploys > 0 {
			s.Weeks[w].FailureRate = float64(s.Weeks[w].Failures) / float64(s.Weeks[w].Deploys)
		}
	}
	s.PerWeek = float64(s.Deploys) / float64(weeks)
	s.LeadTime, s.Restore = median(allLead), median(allRestore)
	s.FailureRate = math.NaN()
	if s.Deploys > 0 {
		s.FailureRate = float64(s.Failures) / float64(s.Deploys)
	}
	return s
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
