package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"
)

type demoCard struct {
	Level   string `json:"level"`
	Results []struct {
		Check   string   `json:"check"`
		Status  string   `json:"status"`
		Failing []string `json:"failing"`
		Snippet string   `json:"snippet"`
	} `json:"results"`
}

func (s *triageStack) card(t *testing.T, name string) demoCard {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.portal.URL+"/api/v1/entities/component/default/"+name+"/scorecard", nil)
	req.Header.Set("Authorization", "Bearer "+s.token)
	res, err := http.DefaultClient.Do(req)
	must(t, err)
	defer res.Body.Close()
	var c demoCard
	must(t, json.NewDecoder(res.Body).Decode(&c))
	return c
}

func (c demoCard) status(check string) (string, string) {
	for _, r := range c.Results {
		if r.Check == check {
			return r.Status, r.Snippet
		}
	}
	return "", ""
}

// TestScorecardsOnDemo grades the demo estate: its deliberate gaps fail the right checks and
// the well-kept services pass them; applying a failing check's YAML with kubectl apply turns
// it green on the live card.
func TestScorecardsOnDemo(t *testing.T) {
	s := startTriageStack(t)
	want := map[string]map[string]string{
		"notification": {"readiness-probe": "fail", "liveness-probe": "fail", "pdb": "fail", "memory-limit": "pass", "network-policy": "pass", "tier-tag": "pass"},
		"analytics":    {"replicas": "fail", "memory-limit": "fail", "readiness-probe": "fail"},
		"user-profile": {"memory-limit": "fail", "readiness-probe": "pass"},
		"payment":      {"readiness-probe": "pass", "liveness-probe": "pass", "pdb": "pass", "hpa": "pass", "network-policy": "pass", "alert-rules": "pass", "owner": "pass", "on-call": "pass"},
	}
	// The cards settle as the caches fill and Prometheus' rules are read: wait for them.
	settled := func() bool {
		for svc, checks := range want {
			c := s.card(t, svc)
			for check, st := range checks {
				if got, _ := c.status(check); got != st {
					return false
				}
			}
		}
		return true
	}
	for deadline := time.Now().Add(time.Minute); !settled() && time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
	}
	notification := s.card(t, "notification")
	for svc, checks := range want {
		c := s.card(t, svc)
		for check, st := range checks {
			if got, _ := c.status(check); got != st {
				t.Errorf("%s %s = %q, want %s", svc, check, got, st)
			}
		}
	}
	_, pdb := notification.status("pdb")
	if !strings.Contains(pdb, "kind: PodDisruptionBudget") {
		t.Fatalf("notification's pdb snippet: %q", pdb)
	}
	cmd := exec.Command(s.kubectl, "--kubeconfig", s.kubeconfig, "apply", "-f", "-")
	cmd.Stdin = strings.NewReader(pdb)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
	defer s.kube(t, "-n", "messaging", "delete", "pdb", "notification", "--ignore-not-found")
	deadline := time.Now().Add(10 * time.Second)
	for {
		if st, _ := s.card(t, "notification").status("pdb"); st == "pass" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(fmt.Sprintf("the applied PodDisruptionBudget never turned the check green: %+v", s.card(t, "notification")))
		}
		time.Sleep(200 * time.Millisecond)
	}
}
