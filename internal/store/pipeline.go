package store

import (
	"context"
	"fmt"
	"hash/fnv"
	"strings"
	"sync"
	"time"

	"github.com/portico-dev/portico/ent"
	"github.com/portico-dev/portico/ent/pipelinecommit"
	"github.com/portico-dev/portico/ent/pipelinedeployment"
	"github.com/portico-dev/portico/ent/pipelinejob"
	"github.com/portico-dev/portico/ent/pipelinerun"
	"github.com/portico-dev/portico/internal/pipeline"
)

// RecordDelivery stores what a CI delivery says, once: a delivery ID seen before changes
// nothing and reports duplicate. Deliveries may arrive late or out of order: a run's, job's or
// deployment's state is replaced only by a newer one (the provider's timestamp; at equal times
// a final status wins over running, running over queued), so the stored state is the same
// whatever order the deliveries came in.
func (s *Store) RecordDelivery(ctx context.Context, source, deliveryID string, ev pipeline.Event) (duplicate bool, err error) {
	// Deliveries about the same run are applied one at a time in this process: they would
	// otherwise wait on each other's row locks in the database, or collide creating the run.
	unlock := s.lockRun(source, ev)
	defer unlock()
	for attempt := 0; ; attempt++ {
		duplicate, err = s.recordOnce(ctx, source, deliveryID, ev)
		if err != nil && ent.IsConstraintError(err) && attempt < 5 {
			continue // another delivery created the same run or job meanwhile: apply on top of it
		}
		return duplicate, err
	}
}

// runLocks are striped by the run's key.
var runLocks [256]sync.Mutex

func (s *Store) lockRun(source string, ev pipeline.Event) func() {
	key := source + "\x00" + ev.Project
	switch {
	case ev.Run != nil:
		key += "\x00" + ev.Run.ID
	case ev.Deployment != nil:
		key += "\x00d" + ev.Deployment.ID
	}
	h := fnv.New32a()
	h.Write([]byte(key))
	m := &runLocks[h.Sum32()%uint32(len(runLocks))]
	m.Lock()
	return m.Unlock
}

func (s *Store) recordOnce(ctx context.Context, source, deliveryID string, ev pipeline.Event) (bool, error) {
	tx, err := s.Client.Tx(ctx)
	if err != nil {
		return false, fmt.Errorf("begin: %w", err)
	}
	now := time.Now().UTC()
	if deliveryID != "" {
		if err := tx.PipelineDelivery.Create().SetSource(source).SetDeliveryID(deliveryID).SetKind(ev.Kind).SetReceivedAt(now).Exec(ctx); err != nil {
			_ = tx.Rollback()
			if ent.IsConstraintError(err) {
				return true, nil
			}
			return false, fmt.Errorf("record delivery: %w", err)
		}
	}
	if err := applyEvent(ctx, tx, ev, now); err != nil {
		_ = tx.Rollback()
		return false, err
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("commit delivery: %w", err)
	}
	return false, nil
}

func applyEvent(ctx context.Context, tx *ent.Tx, ev pipeline.Event, now time.Time) error {
	if ev.Run != nil {
		if err := applyRun(ctx, tx, ev.Source, ev.Project, ev.Run, now); err != nil {
			return err
		}
	}
	for i := range ev.Jobs {
		if err := applyJob(ctx, tx, ev.Source, ev.Project, &ev.Jobs[i]); err != nil {
			return err
		}
	}
	if ev.Push != nil {
		for _, c := range ev.Push.Commits {
			exists, err := tx.PipelineCommit.Query().Where(pipelinecommit.Project(ev.Project), pipelinecommit.Branch(ev.Push.Branch), pipelinecommit.Sha(c.SHA)).Exist(ctx)
			if err != nil {
				return err
			}
			if !exists {
				if err := tx.PipelineCommit.Create().SetProject(ev.Project).SetBranch(ev.Push.Branch).SetSha(c.SHA).SetMessage(c.Message).
					SetAuthor(c.Author).SetNillableCommittedAt(timePtr(c.At)).Exec(ctx); err != nil {
					return err
				}
			}
		}
	}
	if ev.Deployment != nil {
		return applyDeployment(ctx, tx, ev.Source, ev.Project, ev.Deployment)
	}
	return nil
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func deref(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

// newer reports whether a state of (at, status) replaces the stored (oldAt, oldStatus).
func newer(at time.Time, st pipeline.Status, oldAt *time.Time, oldStatus string) bool {
	o := deref(oldAt)
	switch {
	case at.After(o):
		return true
	case at.Equal(o):
		return st.Rank() >= pipeline.Status(oldStatus).Rank()
	}
	return false
}

func or(v, old string) string {
	if v != "" {
		return v
	}
	return old
}

func applyRun(ctx context.Context, tx *ent.Tx, source, project string, r *pipeline.Run, now time.Time) error {
	old, err := tx.PipelineRun.Query().Where(pipelinerun.Source(source), pipelinerun.Project(project), pipelinerun.RunID(r.ID)).Only(ctx)
	if ent.IsNotFound(err) {
		c := tx.PipelineRun.Create().SetSource(source).SetProject(project).SetRunID(r.ID).SetName(r.Name).SetURL(r.URL).SetBranch(r.Branch).
			SetCommit(r.Commit).SetAuthor(r.Author).SetMessage(r.Message).SetTrigger(r.Trigger).SetReceivedAt(now).
			SetNillableCreatedAt(timePtr(r.CreatedAt)).SetNillableStartedAt(timePtr(r.StartedAt))
		if !r.Partial {
			c.SetStatus(string(r.Status)).SetNillableFinishedAt(timePtr(r.FinishedAt)).SetNillableUpdatedAt(timePtr(r.UpdatedAt))
		}
		return c.Exec(ctx)
	}
	if err != nil {
		return err
	}
	u := old.Update().SetName(or(old.Name, r.Name)).SetURL(or(old.URL, r.URL)).SetBranch(or(old.Branch, r.Branch)).SetCommit(or(old.Commit, r.Commit)).
		SetAuthor(or(old.Author, r.Author)).SetMessage(or(old.Message, r.Message)).SetTrigger(or(old.Trigger, r.Trigger))
	if old.CreatedAt == nil && !r.CreatedAt.IsZero() {
		u.SetCreatedAt(r.CreatedAt)
	}
	if !r.StartedAt.IsZero() && (old.StartedAt == nil || r.StartedAt.Before(*old.StartedAt)) {
		u.SetStartedAt(r.StartedAt)
	}
	if !r.Partial && newer(r.UpdatedAt, r.Status, old.UpdatedAt, old.Status) {
		// The newest state wins, its own fields first.
		u.SetStatus(string(r.Status)).SetNillableUpdatedAt(timePtr(r.UpdatedAt)).SetName(or(r.Name, old.Name)).SetURL(or(r.URL, old.URL))
		if r.Status.Final() {
			u.SetNillableFinishedAt(timePtr(r.FinishedAt))
		} else {
			u.ClearFinishedAt()
		}
	}
	return u.Exec(ctx)
}

func applyJob(ctx context.Context, tx *ent.Tx, source, project string, j *pipeline.Job) error {
	old, err := tx.PipelineJob.Query().Where(pipelinejob.Source(source), pipelinejob.Project(project), pipelinejob.RunID(j.RunID), pipelinejob.JobID(j.ID)).Only(ctx)
	if ent.IsNotFound(err) {
		return tx.PipelineJob.Create().SetSource(source).SetProject(project).SetRunID(j.RunID).SetJobID(j.ID).SetName(j.Name).SetStageName(j.StageName).
			SetStage(string(j.Stage)).SetStatus(string(j.Status)).SetURL(j.URL).SetImage(j.Image).SetNillableStartedAt(timePtr(j.StartedAt)).
			SetNillableFinishedAt(timePtr(j.FinishedAt)).SetNillableUpdatedAt(timePtr(j.UpdatedAt)).Exec(ctx)
	}
	if err != nil {
		return err
	}
	if !newer(j.UpdatedAt, j.Status, old.UpdatedAt, old.Status) {
		if old.Image == "" && j.Image != "" {
			return old.Update().SetImage(j.Image).Exec(ctx)
		}
		return nil
	}
	u := old.Update().SetStatus(string(j.Status)).SetNillableUpdatedAt(timePtr(j.UpdatedAt)).SetName(or(j.Name, old.Name)).SetURL(or(j.URL, old.URL)).
		SetImage(or(j.Image, old.Image)).SetStageName(or(j.StageName, old.StageName)).SetStage(string(j.Stage))
	if !j.StartedAt.IsZero() {
		u.SetStartedAt(j.StartedAt)
	}
	if !j.FinishedAt.IsZero() {
		u.SetFinishedAt(j.FinishedAt)
	}
	return u.Exec(ctx)
}

func applyDeployment(ctx context.Context, tx *ent.Tx, source, project string, d *pipeline.Deployment) error {
	old, err := tx.PipelineDeployment.Query().Where(pipelinedeployment.Source(source), pipelinedeployment.Project(project), pipelinedeployment.DeploymentID(d.ID)).Only(ctx)
	if ent.IsNotFound(err) {
		return tx.PipelineDeployment.Create().SetSource(source).SetProject(project).SetDeploymentID(d.ID).SetEnvironment(d.Environment).SetCommit(d.Commit).
			SetRef(d.Ref).SetStatus(string(d.Status)).SetImage(d.Image).SetCreator(d.Creator).SetURL(d.URL).SetNillableUpdatedAt(timePtr(d.UpdatedAt)).Exec(ctx)
	}
	if err != nil {
		return err
	}
	u := old.Update().SetCommit(or(old.Commit, d.Commit)).SetRef(or(old.Ref, d.Ref)).SetImage(or(old.Image, d.Image)).SetCreator(or(old.Creator, d.Creator))
	if newer(d.UpdatedAt, d.Status, old.UpdatedAt, old.Status) {
		u.SetStatus(string(d.Status)).SetNillableUpdatedAt(timePtr(d.UpdatedAt)).SetEnvironment(or(d.Environment, old.Environment)).SetURL(or(d.URL, old.URL))
	}
	return u.Exec(ctx)
}

// Run is a pipeline run as the portal reads it (no ent row leaves this package).
type Run struct {
	Source, Project, RunID, Name, URL string
	Branch, Commit, Author, Message   string
	Trigger, Status                   string
	CreatedAt, StartedAt, FinishedAt  *time.Time
	UpdatedAt                         *time.Time
	ReceivedAt                        time.Time
}

// Job is one job of a run, mapped to its stage.
type Job struct {
	JobID, Name, StageName, Stage, Status string
	URL, Image                            string
	StartedAt, FinishedAt, UpdatedAt      *time.Time
}

// Deployment is a deployment CI reported to an environment.
type Deployment struct {
	Source, Project, DeploymentID, Environment string
	Commit, Ref, Status, Image, Creator, URL   string
	UpdatedAt                                  *time.Time
}

// RunWithJobs is a run and its jobs.
type RunWithJobs struct {
	Run
	Jobs []Job
}

func runOf(r *ent.PipelineRun) Run {
	return Run{Source: r.Source, Project: r.Project, RunID: r.RunID, Name: r.Name, URL: r.URL, Branch: r.Branch, Commit: r.Commit,
		Author: r.Author, Message: r.Message, Trigger: r.Trigger, Status: r.Status, CreatedAt: r.CreatedAt, StartedAt: r.StartedAt,
		FinishedAt: r.FinishedAt, UpdatedAt: r.UpdatedAt, ReceivedAt: r.ReceivedAt}
}

func jobsOf(js []*ent.PipelineJob) []Job {
	out := make([]Job, len(js))
	for i, j := range js {
		out[i] = Job{JobID: j.JobID, Name: j.Name, StageName: j.StageName, Stage: j.Stage, Status: j.Status, URL: j.URL, Image: j.Image,
			StartedAt: j.StartedAt, FinishedAt: j.FinishedAt, UpdatedAt: j.UpdatedAt}
	}
	return out
}

// PipelineRuns returns the newest runs of the given projects (all projects when none), with
// their jobs.
func (s *Store) PipelineRuns(ctx context.Context, projects []string, limit int) ([]RunWithJobs, error) {
	q := s.Client.PipelineRun.Query().Order(ent.Desc(pipelinerun.FieldReceivedAt), ent.Desc(pipelinerun.FieldID)).Limit(limit)
	if len(projects) > 0 {
		q = q.Where(pipelinerun.ProjectIn(projects...))
	}
	runs, err := q.All(ctx)
	if err != nil {
		return nil, fmt.Errorf("read runs: %w", err)
	}
	out := make([]RunWithJobs, len(runs))
	for i, r := range runs {
		jobs, err := s.Client.PipelineJob.Query().Where(pipelinejob.Source(r.Source), pipelinejob.Project(r.Project), pipelinejob.RunID(r.RunID)).
			Order(ent.Asc(pipelinejob.FieldStartedAt), ent.Asc(pipelinejob.FieldJobID)).All(ctx)
		if err != nil {
			return nil, fmt.Errorf("read jobs: %w", err)
		}
		out[i] = RunWithJobs{Run: runOf(r), Jobs: jobsOf(jobs)}
	}
	return out, nil
}

// CountDeliveries is how many distinct deliveries were stored (for the benchmark's count).
func (s *Store) CountDeliveries(ctx context.Context) (int, error) {
	return s.Client.PipelineDelivery.Query().Count(ctx)
}

// Build is the run that produced an image: which commit, which run, whether it passed.
type Build struct {
	Project, RunID, RunName, RunURL, Commit, Branch, Status string
	ScanPassed                                              bool // a security-scan job of the run succeeded
	Signed                                                  bool // a job of the run that signs the image (cosign, notation…) succeeded
	Finished                                                time.Time
	CommitAt                                                time.Time // when the commit was made (its push, else the run's start)
}

// BuildsOf finds, for each image, the run that built it: a job that reported the image, or
// else a run whose commit the image's tag names (tags that are commit SHAs, full or short).
func (s *Store) BuildsOf(ctx context.Context, projects, images []string) (map[string]Build, error) {
	out := map[string]Build{}
	if len(images) == 0 || len(projects) == 0 {
		return out, nil
	}
	jobs, err := s.Client.PipelineJob.Query().Where(pipelinejob.ImageIn(images...), pipelinejob.ProjectIn(projects...)).
		Order(ent.Desc(pipelinejob.FieldID)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("read builds: %w", err)
	}
	for _, j := range jobs {
		if _, done := out[j.Image]; done {
			continue
		}
		r, err := s.Client.PipelineRun.Query().Where(pipelinerun.Source(j.Source), pipelinerun.Project(j.Project), pipelinerun.RunID(j.RunID)).Only(ctx)
		if err != nil {
			continue
		}
		out[j.Image] = s.build(ctx, r)
	}
	for _, img := range images {
		if _, done := out[img]; done {
			continue
		}
		tag := imageTag(img)
		if len(tag) < 7 || !isHex(tag) {
			continue
		}
		r, err := s.Client.PipelineRun.Query().Where(pipelinerun.ProjectIn(projects...), pipelinerun.CommitHasPrefix(tag)).
			Order(ent.Desc(pipelinerun.FieldReceivedAt)).First(ctx)
		if err == nil {
			out[img] = s.build(ctx, r)
		}
	}
	return out, nil
}

func (s *Store) build(ctx context.Context, r *ent.PipelineRun) Build {
	b := Build{Project: r.Project, RunID: r.RunID, RunName: r.Name, RunURL: r.URL, Commit: r.Commit, Branch: r.Branch, Status: r.Status, Finished: deref(r.FinishedAt)}
	b.CommitAt = s.CommitTime(ctx, r.Project, r.Commit)
	if b.CommitAt.IsZero() {
		b.CommitAt = deref(r.CreatedAt)
	}
	b.ScanPassed, _ = s.Client.PipelineJob.Query().Where(pipelinejob.Source(r.Source), pipelinejob.Project(r.Project), pipelinejob.RunID(r.RunID),
		pipelinejob.Stage(string(pipeline.SecurityScan)), pipelinejob.Status(string(pipeline.Success))).Exist(ctx)
	b.Signed, _ = s.Client.PipelineJob.Query().Where(pipelinejob.Source(r.Source), pipelinejob.Project(r.Project), pipelinejob.RunID(r.RunID),
		pipelinejob.Status(string(pipeline.Success)), pipelinejob.Or(pipelinejob.NameHasPrefix("sign"), pipelinejob.NameContainsFold("cosign"),
			pipelinejob.NameContainsFold(" sign"), pipelinejob.NameContainsFold("notation"))).Exist(ctx)
	return b
}

// SuccessfulImages are the images successful runs of the projects produced, newest first.
func (s *Store) SuccessfulImages(ctx context.Context, projects []string, limit int) ([]string, error) {
	if len(projects) == 0 {
		return nil, nil
	}
	jobs, err := s.Client.PipelineJob.Query().Where(pipelinejob.ProjectIn(projects...), pipelinejob.ImageNEQ("")).
		Order(ent.Desc(pipelinejob.FieldID)).Limit(limit * 4).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("read images: %w", err)
	}
	var out []string
	seen := map[string]bool{}
	for _, j := range jobs {
		if seen[j.Image] || len(out) == limit {
			continue
		}
		ok, _ := s.Client.PipelineRun.Query().Where(pipelinerun.Source(j.Source), pipelinerun.Project(j.Project), pipelinerun.RunID(j.RunID),
			pipelinerun.Status(string(pipeline.Success))).Exist(ctx)
		if ok {
			seen[j.Image] = true
			out = append(out, j.Image)
		}
	}
	return out, nil
}

// CommitsAhead counts the commits pushed to branch after sha (in push order); known is false
// when sha was never pushed there (or no push was reported).
func (s *Store) CommitsAhead(ctx context.Context, project, branch, sha string) (n int, known bool, err error) {
	c, err := s.Client.PipelineCommit.Query().Where(pipelinecommit.Project(project), pipelinecommit.Branch(branch), pipelinecommit.ShaHasPrefix(sha)).First(ctx)
	if ent.IsNotFound(err) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	n, err = s.Client.PipelineCommit.Query().Where(pipelinecommit.Project(project), pipelinecommit.Branch(branch), pipelinecommit.IDGT(c.ID)).Count(ctx)
	return n, err == nil, err
}

func imageTag(image string) string {
	if i := strings.LastIndex(image, "@"); i >= 0 {
		return ""
	}
	i := strings.LastIndex(image, ":")
	if i < 0 || strings.Contains(image[i:], "/") {
		return ""
	}
	return image[i+1:]
}

func isHex(s string) bool {
	for _, r := range s {
		if !strings.ContainsRune("0123456789abcdef", r) {
			return false
		}
	}
	return true
}

// CommitTime is when a pushed commit was made (zero when no push reported it).
func (s *Store) CommitTime(ctx context.Context, project, sha string) time.Time {
	if sha == "" {
		return time.Time{}
	}
	c, err := s.Client.PipelineCommit.Query().Where(pipelinecommit.Project(project), pipelinecommit.Sha(sha), pipelinecommit.CommittedAtNotNil()).First(ctx)
	if err != nil {
		return time.Time{}
	}
	return deref(c.CommittedAt)
}

// Deployments are the deployments CI reported for the projects, oldest first.
func (s *Store) Deployments(ctx context.Context, projects []string) ([]Deployment, error) {
	if len(projects) == 0 {
		return nil, nil
	}
	rows, err := s.Client.PipelineDeployment.Query().Where(pipelinedeployment.ProjectIn(projects...)).Order(ent.Asc(pipelinedeployment.FieldUpdatedAt)).Limit(2000).All(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Deployment, len(rows))
	for i, d := range rows {
		out[i] = Deployment{Source: d.Source, Project: d.Project, DeploymentID: d.DeploymentID, Environment: d.Environment, Commit: d.Commit,
			Ref: d.Ref, Status: d.Status, Image: d.Image, Creator: d.Creator, URL: d.URL, UpdatedAt: d.UpdatedAt}
	}
	return out, nil
}
