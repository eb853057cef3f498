package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	listersv1 "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/clientcmd"
)

// cluster watches one cluster's pods through an informer.
type cluster struct {
	name   string
	weight float64 // share of traffic: staging gets a trickle
	pods   listersv1.PodLister
	// configs are the services' ConfigMaps (<service>-config): a bad setting breaks the
	// pods that read it, as a bad config push does.
	configs listersv1.ConfigMapLister
}

// pod is a running, ready pod of a demo service.
type pod struct {
	cluster, namespace, name, service, container, tag string
	cpuRequest, cpuLimit, memRequest, memLimit        float64
	restarts                                          int32
	badConfig                                         bool // its ConfigMap sets DB_POOL_SIZE to 0
}

func watchCluster(ctx context.Context, name, kubeconfig string, weight float64) (*cluster, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("cluster %s: %w", name, err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	f := informers.NewSharedInformerFactoryWithOptions(cs, 10*time.Minute,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = "app.kubernetes.io/name" }))
	lister := f.Core().V1().Pods().Lister()
	configs := f.Core().V1().ConfigMaps().Lister()
	f.Start(ctx.Done())
	syncCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for typ, ok := range f.WaitForCacheSync(syncCtx.Done()) {
		if !ok {
			return nil, fmt.Errorf("cluster %s: %v cache did not sync", name, typ)
		}
	}
	return &cluster{name: name, weight: weight, pods: lister, configs: configs}, nil
}

// readyPods returns the serving pods of every known service, by service.
func (c *cluster) readyPods() map[string][]pod {
	all, _ := c.pods.List(labels.Everything())
	out := map[string][]pod{}
	for _, p := range all {
		svc := p.Labels["app.kubernetes.io/name"]
		if _, known := services[svc]; !known || p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning || !isReady(p) {
			continue
		}
		pd := toPod(c.name, svc, p)
		if cm, err := c.configs.ConfigMaps(p.Namespace).Get(svc + "-config"); err == nil && cm.Data["DB_POOL_SIZE"] == "0" {
			pd.badConfig = true
		}
		out[svc] = append(out[svc], pd)
	}
	return out
}

func isReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func toPod(cluster, svc string, p *corev1.Pod) pod {
	c := p.Spec.Containers[0]
	out := pod{cluster: cluster, namespace: p.Namespace, name: p.Name, service: svc, container: c.Name}
	if i := strings.LastIndex(c.Image, ":"); i >= 0 {
		out.tag = c.Image[i+1:]
	}
	out.cpuRequest = c.Resources.Requests.Cpu().AsApproximateFloat64()
	out.cpuLimit = c.Resources.Limits.Cpu().AsApproximateFloat64()
	out.memRequest = c.Resources.Requests.Memory().AsApproximateFloat64()
	out.memLimit = c.Resources.Limits.Memory().AsApproximateFloat64()
	for _, s := range p.Status.ContainerStatuses {
		out.restarts += s.RestartCount
	}
	return out
}
