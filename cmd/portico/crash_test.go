package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/portico-dev/portico/internal/devstack"
	"github.com/portico-dev/portico/internal/ingest"
	"github.com/portico-dev/portico/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

// TestNothingLostAcrossACrash kills the real portal process (SIGKILL at the write path's
// crash points) once after a deploy reached the cluster but before its result was recorded,
// and once after the intent was recorded but before the change; a CI delivery acknowledged
// before the second crash is kept. After a restart on the same database every interrupted
// entry is completed from what the cluster shows, none is left pending, the delivery's run is
// there, and its redelivery is recognised.
func TestNothingLostAcrossACrash(t *testing.T) {
	c := testenv.Cluster(t)
	prov := testenv.OIDC(t)
	ns := testenv.Namespace(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	admin, err := c.Admin()
	if err != nil {
		t.Fatal(err)
	}
	cat := t.TempDir()
	os.WriteFile(filepath.Join(cat, "ledger.yaml"), []byte(fmt.Sprintf(`apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: ledger
  annotations: {backstage.io/kubernetes-id: ledger, backstage.io/kubernetes-namespace: %s, github.com/project-slug: acme/ledger}
spec: {type: service, lifecycle: experimental, owner: team-payments}
`, ns)), 0o644)
	if err := devstack.SeedRBAC(ctx, admin, cat); err != nil { // portico-admins are cluster admins
		t.Fatal(err)
	}
	labels := map[string]string{"app": "ledger", "backstage.io/kubernetes-id": "ledger"}
	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "ledger", Labels: labels}, Spec: appsv1.DeploymentSpec{
		Replicas: ptr(int32(1)), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "ledger"}},
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "app", Image: "registry.acme.example/ledger:1.0.0"}}}}}}
	if _, err := admin.AppsV1().Deployments(ns).Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	portal := testenv.StartPortalWithConfig(t, fmt.Sprintf(`catalog:
  sources: [{name: local, type: dir, path: %q, globs: ["*.yaml"]}]
auth:
  oidc: {issuer: %q, clientID: %s, clientSecretEnv: OIDC_SECRET}
  sessionKeyEnv: SESSION_KEY
clusters:
  - {name: east, environment: staging, kubeconfig: %q, impersonateGroups: [portico-admins]}
pipelines:
  generic: {secrets: [crash-secret]}
`, cat, prov.Issuer, prov.ClientID, c.PortalKubeconfig), "OIDC_SECRET="+prov.ClientSecret, "SESSION_KEY="+strings.Repeat("c", 32), "PORTICO_TEST_CRASH_AT=change-made")
	tok, err := prov.Tokens("jonas.berg", "portico") // a Portico and cluster admin
	if err != nil {
		t.Fatal(err)
	}
	token, _ := tok.Extra("id_token").(string)
	call := func(method, path string, body any, header ...string) (int, string, error) {
		var r io.Reader
		switch b := body.(type) {
		case nil:
		case []byte:
			r = bytes.NewReader(b)
		default:
			j, _ := json.Marshal(b)
			r = bytes.NewReader(j)
		}
		req, _ := http.NewRequest(method, portal.URL+path, r)
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b), nil
	}
	deploy := func(image string) {
		t.Helper()
		// The portal must first see the Deployment in its caches.
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(200 * time.Millisecond) {
			if status, body, _ := call(http.MethodGet, "/api/v1/entities/component/default/ledger/runtime", nil); status == http.StatusOK && strings.Contains(body, `"name":"ledger"`) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the portal's caches never showed the Deployment ledger")
			}
		}
		status, body, err := call(http.MethodPost, "/api/v1/entities/component/default/ledger/workloads/east/"+ns+"/ledger/deploy",
			map[string]any{"image": image, "reason": "crash test"})
		if err == nil {
			t.Fatalf("the deploy answered %d %s; the portal should have died at its crash point", status, body)
		}
		select {
		case <-portal.Exited():
		case <-time.After(30 * time.Second):
			t.Fatal("the portal did not die at its crash point")
		}
	}

	// 1. The change reaches the cluster, then the portal dies before recording the result.
	deploy("registry.acme.example/ledger:2.0.0")
	d, _ := admin.AppsV1().Deployments(ns).Get(ctx, "ledger", metav1.GetOptions{})
	if got := d.Spec.Template.Spec.Containers[0].Image; got != "registry.acme.example/ledger:2.0.0" {
		t.Fatalf("the first deploy should have reached the cluster: image %s", got)
	}

	// 2. A CI delivery is acknowledged; then the portal dies after an intent, before the change.
	portal.Restart(t, "PORTICO_TEST_CRASH_AT=intent-written")
	ci := []byte(`{"source": "jenkins", "project": "acme/ledger", "timestamp": "2026-12-01T10:00:00Z", "run": {"id": "77", "name": "ledger-ci",
		"status": "success", "commit": "` + strings.Repeat("c", 40) + `", "branch": "main"}, "stages": [{"name": "unit tests", "status": "success"}]}`)
	sig := ingest.Sign("crash-secret", ci)
	if status, body, err := call(http.MethodPost, "/webhooks/pipeline", ci, "X-Portico-Signature-256", sig, "X-Portico-Delivery", "delivery-77"); err != nil || status != http.StatusAccepted {
		t.Fatalf("CI delivery: %d %s %v", status, body, err)
	}
	deploy("registry.acme.example/ledger:3.0.0")

	// 3. Restarted normally: every interrupted entry is completed from the cluster.
	portal.Restart(t, "PORTICO_TEST_CRASH_AT=")
	var entries []struct {
		ID                    int
		Action, Result, Error string
		After                 string
	}
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(time.Second) {
		_, body, err := call(http.MethodGet, "/api/v1/audit?action=deploy", nil)
		var page struct {
			Items []struct {
				ID                    int
				Action, Result, Error string
				After                 string
			}
		}
		if err == nil && json.Unmarshal([]byte(body), &page) == nil && len(page.Items) == 2 && page.Items[0].Result != "pending" && page.Items[1].Result != "pending" {
			entries = page.Items
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("interrupted entries still pending 2 minutes after the restart: %s\n%s", body, tailFile(portal.Log))
		}
	}
	second, first := entries[0], entries[1] // newest first
	if first.Result != "succeeded" || !strings.Contains(first.Error, "interrupted") || !strings.Contains(first.Error, "was applied") || !strings.Contains(first.After, "ledger:2.0.0") {
		t.Errorf("the deploy that reached the cluster: %+v", first)
	}
	if second.Result != "failed" || !strings.Contains(second.Error, "was not applied") {
		t.Errorf("the deploy that did not: %+v", second)
	}
	d, _ = admin.AppsV1().Deployments(ns).Get(ctx, "ledger", metav1.GetOptions{})
	if got := d.Spec.Template.Spec.Containers[0].Image; got != "registry.acme.example/ledger:2.0.0" {
		t.Errorf("image after recovery = %s; recovery must change nothing in the cluster", got)
	}
	if _, body, _ := call(http.MethodGet, "/api/v1/pipelines/runs?project=acme/ledger", nil); !strings.Contains(body, `"id":"77"`) {
		t.Errorf("the acknowledged CI delivery was lost in the crash: %s", body)
	}
	if status, body, _ := call(http.MethodPost, "/webhooks/pipeline", ci, "X-Portico-Signature-256", sig, "X-Portico-Delivery", "delivery-77"); status != http.StatusOK || !strings.Contains(body, `"duplicate":true`) {
		t.Errorf("redelivery after the restart = %d %s, want it recognised as a duplicate", status, body)
	}
}

func ptr[T any](v T) *T { return &v }

func tailFile(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return string(b)
}
