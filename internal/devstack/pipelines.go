package devstack

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// DemoPipelineSecret signs the demo's CI history (the generic webhook's secret in make dev).
const DemoPipelineSecret = "portico-dev-pipelines"

// SeedPipelines reports a CI history for every demo service to the portal, as a CI system
// would: for each revision running or kept in the production cluster, a run that built its
// image and promoted it through every stage (with a production deployment), one newer run on
// main that failed its security scan, and the pushes to main. Delivery IDs are fixed, so a
// second seeding changes nothing.
func SeedPipelines(ctx context.Context, portalURL string, cs kubernetes.Interface, catalogDir string) (int, error) {
	services, err := catalogServices(catalogDir)
	if err != nil {
		return 0, err
	}
	sent := 0
	now := time.Now().UTC()
	for _, s := range services {
		d, err := cs.AppsV1().Deployments(s.namespace).Get(ctx, s.name, metav1.GetOptions{})
		if err != nil {
			continue // not in this cluster
		}
		rss, err := cs.AppsV1().ReplicaSets(s.namespace).List(ctx, metav1.ListOptions{LabelSelector: metav1.FormatLabelSelector(d.Spec.Selector)})
		if err != nil {
			return sent, err
		}
		revs := rss.Items
		sort.Slice(revs, func(i, j int) bool { return revision(&revs[i]) < revision(&revs[j]) })
		project := "acme/" + s.name
		var commits []string
		for i, rs := range revs {
			image := rs.Spec.Template.Spec.Containers[0].Image
			commit := fakeSHA(image)
			commits = append(commits, commit, fakeSHA(image+"-fixup"))
			at := now.Add(-time.Duration(len(revs)-i) * 5 * 24 * time.Hour)
			status := "success"
			if i == len(revs)-2 && len(revs) > 2 {
				status = "failed" // a production rollout that failed, fixed by the next release
			}
			ev := demoRun(project, strconv.Itoa(100+i), commit, image, at, "success", status)
			if err := postSigned(ctx, portalURL, fmt.Sprintf("demo-%s-%d", s.name, i), ev); err != nil {
				return sent, err
			}
			sent++
		}
		// Newer work on main: pushed, built, stopped by the security scan.
		head := fakeSHA(project + "-head")
		commits = append(commits, fakeSHA(project+"-next"), head)
		ev := demoRun(project, strconv.Itoa(100+len(revs)), head, "", now.Add(-3*time.Hour), "failed", "")
		if err := postSigned(ctx, portalURL, fmt.Sprintf("demo-%s-head", s.name), ev); err != nil {
			return sent, err
		}
		push := map[string]any{"ref": "refs/heads/main", "before": "0000000", "after": head, "repository": map[string]string{"full_name": project},
			"pusher": map[string]string{"name": "ci"}, "commits": pushCommits(commits, now)}
		if err := postSignedGitHub(ctx, portalURL, "demo-push-"+s.name, push); err != nil {
			return sent, err
		}
		sent += 2
	}
	return sent, nil
}

func revision(rs *appsv1.ReplicaSet) int {
	n, _ := strconv.Atoi(rs.Annotations["deployment.kubernetes.io/revision"])
	return n
}

func fakeSHA(s string) string {
	sum := sha1.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

func pushCommits(shas []string, now time.Time) []map[string]string {
	out := make([]map[string]string, len(shas))
	for i, sha := range shas {
		at := now.Add(-time.Duration(len(shas)-i) * 61 * time.Hour)
		out[i] = map[string]string{"id": sha, "message": "change " + strconv.Itoa(i+1), "timestamp": at.Format(time.RFC3339)}
	}
	return out
}

// demoRun is a generic event: every stage up to production succeeds (with a production
// deployment of prodStatus), or, when status is failed, the run stops at the security scan.
func demoRun(project, id, commit, image string, at time.Time, status, prodStatus string) map[string]any {
	stage := func(name, st string, offset int) map[string]any {
		return map[string]any{"name": name, "status": st, "startedAt": at.Add(time.Duration(offset) * time.Minute), "finishedAt": at.Add(time.Duration(offset+2) * time.Minute)}
	}
	stages := []map[string]any{stage("review", "success", 0), stage("lint", "success", 1), stage("unit tests", "success", 3), stage("docker build", "success", 5)}
	run := map[string]any{"id": id, "name": "ci", "url": "https://ci.acme.example/" + project + "/" + id, "branch": "main", "commit": commit,
		"author": "acme-dev", "trigger": "push", "status": status, "startedAt": at, "finishedAt": at.Add(30 * time.Minute)}
	ev := map[string]any{"source": "acme-ci", "project": project, "run": run, "timestamp": at.Add(30 * time.Minute)}
	if status == "failed" {
		stages = append(stages, stage("trivy scan", "failed", 7))
	} else {
		stages = append(stages, stage("trivy scan", "success", 7), stage("push to registry", "success", 9), stage("deploy staging", "success", 11),
			stage("smoke tests", "success", 13), stage("canary", "success", 15), stage("production rollout", prodStatus, 20))
		ev["image"] = image
		ev["deployment"] = map[string]string{"environment": "production", "status": prodStatus}
	}
	ev["stages"] = stages
	return ev
}

func postSigned(ctx context.Context, portalURL, delivery string, ev any) error {
	return post(ctx, portalURL+"/webhooks/pipeline", ev, map[string]string{"X-Portico-Delivery": delivery}, "X-Portico-Signature-256")
}

func postSignedGitHub(ctx context.Context, portalURL, delivery string, ev any) error {
	return post(ctx, portalURL+"/webhooks/github", ev, map[string]string{"X-GitHub-Delivery": delivery, "X-GitHub-Event": "push"}, "X-Hub-Signature-256")
}

func post(ctx context.Context, url string, ev any, headers map[string]string, sigHeader string) error {
	body, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	mac := hmac.New(sha256.New, []byte(DemoPipelineSecret))
	mac.Write(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(sigHeader, "sha256="+hex.EncodeToString(mac.Sum(nil)))
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("report the demo CI history: %w", err)
	}
	res.Body.Close()
	if res.StatusCode >= 300 {
		return fmt.Errorf("report the demo CI history: %s answered %s", url, res.Status)
	}
	return nil
}
