package devstack_test

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/portico-dev/portico/internal/testenv"
)

// TestContainerLogs: the API server serves pod logs through kwok, as kubelets would.
func TestContainerLogs(t *testing.T) {
	ns := testenv.Namespace(t)
	cs, _ := testenv.Cluster(t).Admin()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := cs.AppsV1().Deployments(ns).Create(ctx, deployment("logger", 1, nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var pod string
	waitFor(ctx, t, "a running pod", func() bool {
		pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil || len(pods.Items) == 0 || pods.Items[0].Status.Phase != corev1.PodRunning {
			return false
		}
		pod = pods.Items[0].Name
		return true
	})
	waitFor(ctx, t, "the demo log through the API server", func() bool {
		b, err := cs.CoreV1().Pods(ns).GetLogs(pod, &corev1.PodLogOptions{Container: "app"}).DoRaw(ctx)
		return err == nil && strings.Contains(string(b), "server listening")
	})
}
