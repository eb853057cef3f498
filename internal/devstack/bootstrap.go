package devstack

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// PortalNamespace and PortalServiceAccount are the portal's own identity in each cluster.
const (
	PortalNamespace      = "portico-system"
	PortalServiceAccount = "portico"
)

// portalRules are all the portal may do as itself: read what its caches show (never
// secrets), and impersonate signed-in users for their actions, which RBAC then judges.
var portalRules = []rbacv1.PolicyRule{
	{APIGroups: []string{""}, Resources: []string{"pods", "pods/log", "services", "events", "nodes", "namespaces", "endpoints", "replicationcontrollers"}, Verbs: []string{"get", "list", "watch"}},
	{APIGroups: []string{"apps"}, Resources: []string{"deployments", "replicasets", "statefulsets", "daemonsets", "controllerrevisions"}, Verbs: []string{"get", "list", "watch"}},
	// Only the metadata of ConfigMaps is read (when they last changed). Secrets are not
	// listed: RBAC cannot grant their metadata without their values (see watchSecrets).
	{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"list", "watch"}},
	{APIGroups: []string{"autoscaling"}, Resources: []string{"horizontalpodautoscalers"}, Verbs: []string{"get", "list", "watch"}},
	{APIGroups: []string{"policy"}, Resources: []string{"poddisruptionbudgets"}, Verbs: []string{"get", "list", "watch"}},
	{APIGroups: []string{"networking.k8s.io"}, Resources: []string{"ingresses", "networkpolicies"}, Verbs: []string{"get", "list", "watch"}},
	{APIGroups: []string{"events.k8s.io"}, Resources: []string{"events"}, Verbs: []string{"get", "list", "watch"}},
	// The custom resources the scorecards read where they are installed.
	{APIGroups: []string{"aquasecurity.github.io", "wgpolicyk8s.io", "security.istio.io", "policy.linkerd.io", "autoscaling.k8s.io"},
		Resources: []string{"vulnerabilityreports", "policyreports", "peerauthentications", "servers", "verticalpodautoscalers"}, Verbs: []string{"get", "list", "watch"}},
	// The service mesh's and Gateway API's traffic resources, for the traffic panel.
	{APIGroups: []string{"networking.istio.io", "security.istio.io", "gateway.networking.k8s.io", "policy.linkerd.io"},
		Resources: []string{"virtualservices", "destinationrules", "authorizationpolicies", "httproutes", "meshtlsauthentications"}, Verbs: []string{"get", "list", "watch"}},
	{APIGroups: []string{"authorization.k8s.io"}, Resources: []string{"subjectaccessreviews"}, Verbs: []string{"create"}},
	{APIGroups: []string{""}, Resources: []string{"users"}, Verbs: []string{"impersonate"}},
	{APIGroups: []string{""}, Resources: []string{"groups"}, Verbs: []string{"impersonate"}, ResourceNames: ImpersonableGroups},
}

// leaseRules are the portal's rules in its own namespace: the Lease its replicas elect the
// one doing background work with.
var leaseRules = []rbacv1.PolicyRule{
	{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"get", "list", "watch", "create", "update", "patch"}},
}

// controlPlaneRules are the portal's rules in kube-system: reading the Leases the control
// plane's components elect their leaders with, for the cluster page (nothing else there).
var controlPlaneRules = []rbacv1.PolicyRule{
	{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"get", "list", "watch"}},
}

// ControlPlaneRules are the portal's rules in kube-system, as the Helm chart's Role there
// grants them.
func ControlPlaneRules() []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{*controlPlaneRules[0].DeepCopy()}
}

// LeaseRules are the portal's rules in its namespace, as the Helm chart's Role grants them.
func LeaseRules() []rbacv1.PolicyRule { return []rbacv1.PolicyRule{*leaseRules[0].DeepCopy()} }

// PortalRules are the portal's own rules, as the Helm chart must grant them too (its test
// compares the two).
func PortalRules() []rbacv1.PolicyRule {
	out := make([]rbacv1.PolicyRule, len(portalRules))
	for i, r := range portalRules {
		out[i] = *r.DeepCopy()
	}
	return out
}

// ImpersonableGroups are the identity provider's groups the portal may pass on to the
// clusters: the demo teams, on-call, admins and viewers. A user's other groups are dropped.
var ImpersonableGroups = []string{"team-identity", "team-payments", "team-messaging", "team-geo", "team-discovery",
	"team-data", "team-platform", "sre-oncall", "portico-admins", "viewers"}

func (c *Cluster) adminClient() (*kubernetes.Clientset, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", c.AdminKubeconfig)
	if err != nil {
		return nil, err
	}
	cfg.QPS, cfg.Burst = 100, 200
	return kubernetes.NewForConfig(cfg)
}

// Admin returns a client with the cluster-admin identity.
func (c *Cluster) Admin() (*kubernetes.Clientset, error) { return c.adminClient() }

func (c *Cluster) writeAdminKubeconfig(p *pki) error {
	cert, key, err := p.issue("admin", "portico-admin", []string{"system:masters"}, false)
	if err != nil {
		return err
	}
	c.AdminKubeconfig = filepath.Join(c.Dir, "admin.kubeconfig")
	return writeKubeconfig(c.AdminKubeconfig, c.Spec.Name, c.URL, p.path("ca.crt"), cert, key, "")
}

// bootstrap creates the kwok nodes and the portal's ServiceAccount, role and kubeconfig.
func (c *Cluster) bootstrap(ctx context.Context, p *pki) error {
	cs, err := c.adminClient()
	if err != nil {
		return err
	}
	for i := 0; i < c.Spec.Nodes; i++ {
		if err := createNode(ctx, cs, fmt.Sprintf("%s-node-%d", c.Spec.Name, i), i); err != nil {
			return err
		}
	}
	if err := ensure(ctx, func() error {
		_, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: PortalNamespace}}, metav1.CreateOptions{})
		return err
	}); err != nil {
		return err
	}
	if err := ensure(ctx, func() error {
		_, err := cs.CoreV1().ServiceAccounts(PortalNamespace).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: PortalServiceAccount}}, metav1.CreateOptions{})
		return err
	}); err != nil {
		return err
	}
	if err := applyClusterRole(ctx, cs, "portico", portalRules); err != nil {
		return err
	}
	if err := applyClusterRoleBinding(ctx, cs, "portico", "portico",
		rbacv1.Subject{Kind: "ServiceAccount", Name: PortalServiceAccount, Namespace: PortalNamespace}); err != nil {
		return err
	}
	if err := applyRole(ctx, cs, PortalNamespace, "portico-leader", leaseRules,
		rbacv1.Subject{Kind: "ServiceAccount", Name: PortalServiceAccount, Namespace: PortalNamespace}); err != nil {
		return err
	}
	if err := applyRole(ctx, cs, "kube-system", "portico-control-plane", controlPlaneRules,
		rbacv1.Subject{Kind: "ServiceAccount", Name: PortalServiceAccount, Namespace: PortalNamespace}); err != nil {
		return err
	}
	exp := int64((30 * 24 * time.Hour).Seconds())
	tok, err := cs.CoreV1().ServiceAccounts(PortalNamespace).CreateToken(ctx, PortalServiceAccount,
		&authnv1.TokenRequest{Spec: authnv1.TokenRequestSpec{ExpirationSeconds: &exp}}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("token for the portal's service account: %w", err)
	}
	c.PortalKubeconfig = filepath.Join(c.Dir, "portico.kubeconfig")
	return writeKubeconfig(c.PortalKubeconfig, c.Spec.Name, c.URL, p.path("ca.crt"), "", "", tok.Status.Token)
}

// ensure runs create, accepting an object that already exists (a restarted stack).
func ensure(_ context.Context, create func() error) error {
	if err := create(); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	return nil
}

func createNode(ctx context.Context, cs *kubernetes.Clientset, name string, i int) error {
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("16"),
		corev1.ResourceMemory: resource.MustParse("64Gi"),
		corev1.ResourcePods:   resource.MustParse("110"),
	}
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name,
			Labels: map[string]string{"type": "kwok", "kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
				"topology.kubernetes.io/zone": fmt.Sprintf("zone-%c", 'a'+i%3)},
			Annotations: map[string]string{"kwok.x-k8s.io/node": "fake"}},
		Status: corev1.NodeStatus{Capacity: capacity, Allocatable: capacity,
			NodeInfo: corev1.NodeSystemInfo{KubeletVersion: "fake", OperatingSystem: "linux", Architecture: "amd64"}},
	}
	return ensure(ctx, func() error { _, err := cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); return err })
}

// writeKubeconfig writes a kubeconfig with either a client certificate or a bearer token.
func writeKubeconfig(path, cluster, server, caFile, certFile, keyFile, token string) error {
	ca, err := os.ReadFile(caFile)
	if err != nil {
		return err
	}
	auth := &clientcmdapi.AuthInfo{Token: token}
	if certFile != "" {
		if auth.ClientCertificateData, err = os.ReadFile(certFile); err != nil {
			return err
		}
		if auth.ClientKeyData, err = os.ReadFile(keyFile); err != nil {
			return err
		}
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[cluster] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: ca}
	cfg.AuthInfos[cluster] = auth
	cfg.Contexts[cluster] = &clientcmdapi.Context{Cluster: cluster, AuthInfo: cluster}
	cfg.CurrentContext = cluster
	return clientcmd.WriteToFile(*cfg, path)
}

// CreateNamespace creates a namespace (it may exist already).
func CreateNamespace(ctx context.Context, cs kubernetes.Interface, name string) error {
	return ensure(ctx, func() error {
		_, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
		return err
	})
}

// DeleteNamespace deletes a namespace and everything in it.
func DeleteNamespace(ctx context.Context, cs kubernetes.Interface, name string) error {
	err := cs.CoreV1().Namespaces().Delete(ctx, name, metav1.DeleteOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
