package cluster

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2/expirable"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// AccessTTL is how long an access review's answer is reused: long enough that a page with
// several buttons costs one review per button and user, short enough that a changed
// RoleBinding shows within a minute.
const AccessTTL = 30 * time.Second

// Access is a Kubernetes permission to check: a verb on a resource, optionally one object.
type Access struct {
	Verb, Group, Resource, Subresource, Namespace, Name string
}

// Verdict is the API server's answer for one user and Access.
type Verdict struct {
	Allowed bool
	Reason  string
}

type accessKey struct {
	user, groups string
	Access
}

// accessCache keeps the API server's answers for AccessTTL, the least recently used going
// first past maxAccessAnswers.
type accessCache struct {
	once sync.Once
	lru  *lru.LRU[accessKey, Verdict]
}

const maxAccessAnswers = 10000

func (a *accessCache) get() *lru.LRU[accessKey, Verdict] {
	a.once.Do(func() { a.lru = lru.NewLRU[accessKey, Verdict](maxAccessAnswers, nil, AccessTTL) })
	return a.lru
}

// accessReviewTimeout bounds one review: a hung API server must not hold a page up.
const accessReviewTimeout = 2 * time.Second

// Can asks the API server, with a SubjectAccessReview, whether id may do a; answers are
// cached for AccessTTL. Errors (cluster down) are not cached; a cluster the probe finds
// unreachable is not asked at all.
func (c *Cluster) Can(ctx context.Context, id Identity, a Access) (Verdict, error) {
	groups := c.PassedGroups(id.Groups)
	slices.Sort(groups)
	key := accessKey{user: id.User, groups: strings.Join(groups, "\x00"), Access: a}
	if v, ok := c.access.get().Get(key); ok {
		return v, nil
	}
	if r := c.Reachability(); r.Probed && !r.Reachable {
		return Verdict{}, fmt.Errorf("cluster %s is unreachable (%s)", c.Name, r.Error)
	}
	ctx, cancel := context.WithTimeout(ctx, accessReviewTimeout)
	defer cancel()
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User: id.User, Groups: append(groups, "system:authenticated"),
		ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: a.Verb, Group: a.Group, Resource: a.Resource,
			Subresource: a.Subresource, Namespace: a.Namespace, Name: a.Name},
	}}
	out, err := c.client.AuthorizationV1().SubjectAccessReviews().Create(ctx, sar, metav1.CreateOptions{})
	if err != nil {
		return Verdict{}, fmt.Errorf("cluster %s: access review: %w", c.Name, err)
	}
	v := Verdict{Allowed: out.Status.Allowed && !out.Status.Denied, Reason: out.Status.Reason}
	if !v.Allowed && v.Reason == "" {
		res := a.Resource
		if a.Subresource != "" {
			res += "/" + a.Subresource
		}
		v.Reason = fmt.Sprintf("Kubernetes RBAC in %s does not let %s %s %s in namespace %s", c.DisplayName, id.User, a.Verb, res, a.Namespace)
	}
	c.access.get().Add(key, v)
	return v, nil
}
