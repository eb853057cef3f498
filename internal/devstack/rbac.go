package devstack

import (
	"context"
	"fmt"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// The demo's Kubernetes RBAC, which Portico's impersonated actions meet: teams deploy in
// their own namespaces, on-call may restart and scale anywhere but not change images,
// viewers and everyone signed in may read, admins may do anything.
var (
	readRules = []rbacv1.PolicyRule{
		{APIGroups: []string{"apps"}, Resources: []string{"deployments", "replicasets", "statefulsets", "daemonsets", "deployments/scale"}, Verbs: []string{"get", "list", "watch"}},
		{APIGroups: []string{""}, Resources: []string{"pods", "pods/log", "services", "events"}, Verbs: []string{"get", "list", "watch"}},
		{APIGroups: []string{"autoscaling"}, Resources: []string{"horizontalpodautoscalers"}, Verbs: []string{"get", "list", "watch"}},
	}
	// Restart and rollback are patches of the Deployment, which RBAC cannot tell from an
	// image change: on-call may patch anywhere, and Portico's policy is what keeps on-call
	// from deploying new images. Owners get the same verbs, but only in their namespaces.
	operatorRules = append(append([]rbacv1.PolicyRule{}, readRules...),
		rbacv1.PolicyRule{APIGroups: []string{"apps"}, Resources: []string{"deployments", "deployments/scale"}, Verbs: []string{"update", "patch"}},
		rbacv1.PolicyRule{APIGroups: []string{"autoscaling"}, Resources: []string{"horizontalpodautoscalers"}, Verbs: []string{"update", "patch"}},
	)
	deployerRules = operatorRules
	// On-call cordons and uncordons nodes (admins, as cluster admins, may anyway).
	nodeOperatorRules = []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"nodes"}, Verbs: []string{"get", "list", "watch", "patch"}},
	}
)

// Demo role names.
const (
	RoleViewer   = "acme:viewer"
	RoleOperator = "acme:operator"
	RoleDeployer = "acme:deployer"
	RoleNodeOps  = "acme:node-operator"
)

// SeedRBAC gives the demo teams their rights: each owning team is a deployer in its
// services' namespaces, sre-oncall an operator everywhere who may also cordon nodes, viewers
// and every signed-in user readers, portico-admins cluster admins.
func SeedRBAC(ctx context.Context, cs kubernetes.Interface, catalogDir string) error {
	for name, rules := range map[string][]rbacv1.PolicyRule{RoleViewer: readRules, RoleOperator: operatorRules, RoleDeployer: deployerRules, RoleNodeOps: nodeOperatorRules} {
		if err := applyClusterRole(ctx, cs, name, rules); err != nil {
			return err
		}
	}
	group := func(g string) rbacv1.Subject {
		return rbacv1.Subject{Kind: "Group", APIGroup: rbacv1.GroupName, Name: g}
	}
	for _, b := range []struct {
		name, role string
		subject    rbacv1.Subject
	}{
		{"acme:authenticated-view", RoleViewer, group("system:authenticated")},
		{"acme:oncall", RoleOperator, group("sre-oncall")},
		{"acme:oncall-nodes", RoleNodeOps, group("sre-oncall")},
		{"acme:admins", "cluster-admin", group("portico-admins")},
	} {
		if err := applyClusterRoleBinding(ctx, cs, b.name, b.role, b.subject); err != nil {
			return err
		}
	}
	services, err := catalogServices(catalogDir)
	if err != nil {
		return err
	}
	for _, s := range services {
		if s.owner == "" {
			continue
		}
		if err := CreateNamespace(ctx, cs, s.namespace); err != nil {
			return err
		}
		if err := BindTeam(ctx, cs, s.namespace, s.owner); err != nil {
			return err
		}
	}
	return nil
}

// BindTeam makes a team (an identity provider group) a deployer in a namespace. The demo
// cluster roles must exist (SeedRBAC).
func BindTeam(ctx context.Context, cs kubernetes.Interface, namespace, team string) error {
	rb := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "acme:deployers:" + team, Namespace: namespace},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: RoleDeployer},
		Subjects: []rbacv1.Subject{{Kind: "Group", APIGroup: rbacv1.GroupName, Name: team}}}
	if err := ensure(ctx, func() error {
		_, err := cs.RbacV1().RoleBindings(namespace).Create(ctx, rb, metav1.CreateOptions{})
		return err
	}); err != nil {
		return fmt.Errorf("role binding for %s in %s: %w", team, namespace, err)
	}
	return nil
}

// applyClusterRole creates the role, or brings an existing one (an older stack) up to date.
func applyClusterRole(ctx context.Context, cs kubernetes.Interface, name string, rules []rbacv1.PolicyRule) error {
	role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: rules}
	_, err := cs.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		_, err = cs.RbacV1().ClusterRoles().Update(ctx, role, metav1.UpdateOptions{})
	}
	if err != nil {
		return fmt.Errorf("cluster role %s: %w", name, err)
	}
	return nil
}

// applyRole creates or updates a Role in namespace and binds it to subject.
func applyRole(ctx context.Context, cs kubernetes.Interface, namespace, name string, rules []rbacv1.PolicyRule, subject rbacv1.Subject) error {
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace}, Rules: rules}
	_, err := cs.RbacV1().Roles(namespace).Create(ctx, role, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		_, err = cs.RbacV1().Roles(namespace).Update(ctx, role, metav1.UpdateOptions{})
	}
	if err != nil {
		return fmt.Errorf("role %s/%s: %w", namespace, name, err)
	}
	b := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name}, Subjects: []rbacv1.Subject{subject}}
	if err := ensure(ctx, func() error {
		_, err := cs.RbacV1().RoleBindings(namespace).Create(ctx, b, metav1.CreateOptions{})
		return err
	}); err != nil {
		return fmt.Errorf("role binding %s/%s: %w", namespace, name, err)
	}
	return nil
}

func applyClusterRoleBinding(ctx context.Context, cs kubernetes.Interface, name, role string, subject rbacv1.Subject) error {
	b := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role}, Subjects: []rbacv1.Subject{subject}}
	if err := ensure(ctx, func() error {
		_, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, b, metav1.CreateOptions{})
		return err
	}); err != nil {
		return fmt.Errorf("cluster role binding %s: %w", name, err)
	}
	return nil
}
