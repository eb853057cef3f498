package cluster

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"
)

// ClusterMesh is the service mesh and Gateway API configuration around a component in one
// cluster, read from the custom resources the cluster serves (nothing when none is).
type ClusterMesh struct {
	Cluster     string          `json:"cluster"`
	Environment string          `json:"environment,omitempty"`
	Served      []string        `json:"served"`   // the mesh APIs installed: Istio, Gateway API, Linkerd
	Services    []string        `json:"services"` // the component's Kubernetes Services, namespace/name
	Routes      []MeshRoute     `json:"routes"`
	Policies    []TrafficPolicy `json:"trafficPolicies"`
	MTLS        []MTLS          `json:"mtls"`
	Authz       []Authz         `json:"authorization"`
}

// MeshRoute is one routing rule that leads to the component: an Istio VirtualService's HTTP
// route or a Gateway API HTTPRoute's rule.
type MeshRoute struct {
	Source       string             `json:"source"` // "VirtualService shop/pricing", "HTTPRoute shop/storefront"
	Rule         string             `json:"rule,omitempty"`
	Hosts        []string           `json:"hosts,omitempty"`
	Parents      []string           `json:"parents,omitempty"` // gateways
	Match        string             `json:"match"`
	Destinations []RouteDestination `json:"destinations"`
	Timeout      string             `json:"timeout,omitempty"`
	Retries      string             `json:"retries,omitempty"`
	Extras       []string           `json:"extras,omitempty"` // fault injection, mirroring, rewrites
}

// RouteDestination is where a route sends a share of its requests.
type RouteDestination struct {
	Service string `json:"service"` // host or Service name
	Subset  string `json:"subset,omitempty"`
	Port    string `json:"port,omitempty"`
	Weight  int64  `json:"weight"` // percent of the route's requests
	Ours    bool   `json:"ours"`   // one of the component's Services
	// Ref is the Service it resolves to, namespace/name ("" for a host outside the cluster).
	Ref string `json:"ref,omitempty"`
	// Version is the pods' version label the subset selects, for its request metrics.
	Version string `json:"version,omitempty"`
}

// TrafficPolicy is an Istio DestinationRule for one of the component's hosts: connection
// pool limits and outlier detection (circuit breaking), TLS and load balancing.
type TrafficPolicy struct {
	Source           string   `json:"source"`
	Host             string   `json:"host"`
	ConnectionPool   []string `json:"connectionPool,omitempty"`
	OutlierDetection string   `json:"outlierDetection,omitempty"`
	LoadBalancer     string   `json:"loadBalancer,omitempty"`
	TLS              string   `json:"tls,omitempty"`
	Subsets          []string `json:"subsets,omitempty"` // name: labels
}

// MTLS is a mutual-TLS setting that applies to the component's pods.
type MTLS struct {
	Source string `json:"source"`
	Scope  string `json:"scope"` // mesh, namespace, workload
	Mode   string `json:"mode"`  // STRICT, PERMISSIVE, DISABLE, UNSET; or Linkerd's identity
	Ports  string `json:"ports,omitempty"`
}

// Authz is an authorization policy that applies to the component's pods.
type Authz struct {
	Source string   `json:"source"`
	Scope  string   `json:"scope"`
	Action string   `json:"action"` // ALLOW, DENY, AUDIT, CUSTOM
	Rules  []string `json:"rules"`  // in words
}

// Mesh answers, from the caches, the mesh configuration around q's workloads in every
// cluster q allows where some of it is served.
func (m *Manager) Mesh(q Query) []ClusterMesh {
	var out []ClusterMesh
	for _, c := range m.clusters {
		if q.Cluster != "" && q.Cluster != c.Name || c.crds == nil {
			continue
		}
		ws := c.workloadsOf(q)
		if len(ws) == 0 {
			continue
		}
		out = append(out, c.mesh(q, ws))
	}
	return out
}

// host is a Service as mesh resources name it: name, name.ns, name.ns.svc[.cluster.local].
type host struct{ ns, name string }

func parseHost(h, defaultNS string) host {
	parts := strings.Split(strings.TrimSuffix(h, ".cluster.local"), ".")
	switch {
	case len(parts) == 1:
		return host{defaultNS, parts[0]}
	case len(parts) == 2 || len(parts) == 3 && parts[2] == "svc":
		return host{parts[1], parts[0]}
	}
	return host{"", h} // an external host
}

func (c *Cluster) mesh(q Query, ws []workloadRef) ClusterMesh {
	cm := ClusterMesh{Cluster: c.Name, Environment: c.Environment, Served: []string{}, Services: []string{}, Routes: []MeshRoute{},
		Policies: []TrafficPolicy{}, MTLS: []MTLS{}, Authz: []Authz{}}
	served := c.crds.served()
	ours := map[host]bool{}
	for _, obj := range selectObjects(c.idx.services, q.Namespace, q.Selector) {
		s := obj.(*corev1.Service)
		ours[host{s.Namespace, s.Name}] = true
		cm.Services = append(cm.Services, s.Namespace+"/"+s.Name)
	}
	sort.Strings(cm.Services)
	namespaces := map[string]bool{}
	for _, w := range ws {
		namespaces[w.namespace] = true
	}
	list := func(key string, nss ...string) []*unstructured.Unstructured {
		ci := served[key]
		if ci == nil {
			return nil
		}
		var out []*unstructured.Unstructured
		for _, ns := range nss {
			objs, _ := ci.inf.GetIndexer().ByIndex(cache.NamespaceIndex, ns)
			for _, o := range objs {
				if u, ok := o.(*unstructured.Unstructured); ok {
					out = append(out, u)
				}
			}
		}
		if len(nss) == 0 {
			for _, o := range ci.inf.GetStore().List() {
				if u, ok := o.(*unstructured.Unstructured); ok {
					out = append(out, u)
				}
			}
		}
		sort.Slice(out, func(i, j int) bool {
			return out[i].GetNamespace()+"/"+out[i].GetName() < out[j].GetNamespace()+"/"+out[j].GetName()
		})
		return out
	}
	for _, api := range []struct{ name, key string }{{"Istio", "virtualservices.networking.istio.io"}, {"Gateway API", "httproutes.gateway.networking.k8s.io"},
		{"Linkerd", "servers.policy.linkerd.io"}} {
		if served[api.key] != nil {
			cm.Served = append(cm.Served, api.name)
		}
	}
	// The subsets' version labels, for the routes' metrics.
	versions := map[string]string{} // "ns/name/subset" → version label
	for _, dr := range list("destinationrules.networking.istio.io") {
		h := parseHost(str(dr.Object, "spec", "host"), dr.GetNamespace())
		if !ours[h] {
			continue
		}
		cm.Policies = append(cm.Policies, destinationRule(dr, h, versions))
	}
	for _, vs := range list("virtualservices.networking.istio.io") {
		cm.Routes = append(cm.Routes, virtualServiceRoutes(vs, ours, versions)...)
	}
	for _, hr := range list("httproutes.gateway.networking.k8s.io") {
		cm.Routes = append(cm.Routes, httpRouteRules(hr, ours)...)
	}
	nsList := make([]string, 0, len(namespaces))
	for ns := range namespaces {
		nsList = append(nsList, ns)
	}
	sort.Strings(nsList)
	applies := func(u *unstructured.Unstructured, selectorPath ...string) (string, bool) {
		sel, found, _ := unstructured.NestedStringMap(u.Object, selectorPath...)
		switch {
		case u.GetNamespace() == meshRootNamespace && !found:
			return "mesh", true
		case !found || len(sel) == 0:
			return "namespace " + u.GetNamespace(), namespaces[u.GetNamespace()]
		}
		for _, w := range ws {
			if w.namespace == u.GetNamespace() && labels.SelectorFromSet(sel).Matches(labels.Set(w.template.Labels)) {
				return "workload " + w.kind + " " + w.name, true
			}
		}
		return "", false
	}
	rootAndOwn := append([]string{meshRootNamespace}, nsList...)
	for _, pa := range list("peerauthentications.security.istio.io", rootAndOwn...) {
		scope, ok := applies(pa, "spec", "selector", "matchLabels")
		if !ok {
			continue
		}
		m := MTLS{Source: "PeerAuthentication " + pa.GetNamespace() + "/" + pa.GetName(), Scope: scope, Mode: orText(str(pa.Object, "spec", "mtls", "mode"), "UNSET (inherits)")}
		if ports, ok, _ := unstructured.NestedMap(pa.Object, "spec", "portLevelMtls"); ok {
			var ps []string
			for p, v := range ports {
				vm, _ := v.(map[string]any)
				ps = append(ps, fmt.Sprintf("%s: %v", p, vm["mode"]))
			}
			sort.Strings(ps)
			m.Ports = strings.Join(ps, ", ")
		}
		cm.MTLS = append(cm.MTLS, m)
	}
	for _, ap := range list("authorizationpolicies.security.istio.io", rootAndOwn...) {
		scope, ok := applies(ap, "spec", "selector", "matchLabels")
		if !ok {
			continue
		}
		cm.Authz = append(cm.Authz, istioAuthz(ap, scope))
	}
	cm.linkerd(c, ws, nsList, list)
	return cm
}

func str(obj map[string]any, path ...string) string {
	s, _, _ := unstructured.NestedString(obj, path...)
	return s
}

func orText(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}

func destinationRule(dr *unstructured.Unstructured, h host, versions map[string]string) TrafficPolicy {
	tp := TrafficPolicy{Source: "DestinationRule " + dr.GetNamespace() + "/" + dr.GetName(), Host: str(dr.Object, "spec", "host")}
	pol, _, _ := unstructured.NestedMap(dr.Object, "spec", "trafficPolicy")
	if tcp, ok := pol["connectionPool"].(map[string]any); ok {
		for _, kv := range [][3]string{{"tcp", "maxConnections", "at most %v connections"}, {"tcp", "connectTimeout", "connect timeout %v"},
			{"http", "http1MaxPendingRequests", "at most %v pending requests"}, {"http", "http2MaxRequests", "at most %v requests in flight"},
			{"http", "maxRequestsPerConnection", "%v requests per connection"}, {"http", "maxRetries", "at most %v retries in flight"}} {
			if sec, ok := tcp[kv[0]].(map[string]any); ok && sec[kv[1]] != nil {
				tp.ConnectionPool = append(tp.ConnectionPool, fmt.Sprintf(kv[2], sec[kv[1]]))
			}
		}
	}
	if od, ok := pol["outlierDetection"].(map[string]any); ok {
		errs := od["consecutive5xxErrors"]
		if errs == nil {
			errs = od["consecutiveErrors"]
		}
		tp.OutlierDetection = fmt.Sprintf("eject a pod after %v consecutive 5xx, checked every %v, for %v at least, at most %v%% of pods",
			orAny(errs, 5), orAny(od["interval"], "10s"), orAny(od["baseEjectionTime"], "30s"), orAny(od["maxEjectionPercent"], 10))
	}
	if lb, ok := pol["loadBalancer"].(map[string]any); ok {
		if simple, ok := lb["simple"].(string); ok {
			tp.LoadBalancer = simple
		} else if _, ok := lb["consistentHash"]; ok {
			tp.LoadBalancer = "consistent hash"
		}
	}
	if tls, ok := pol["tls"].(map[string]any); ok {
		tp.TLS, _ = tls["mode"].(string)
	}
	subsets, _, _ := unstructured.NestedSlice(dr.Object, "spec", "subsets")
	for _, s := range subsets {
		sm, _ := s.(map[string]any)
		name, _ := sm["name"].(string)
		lbls, _ := sm["labels"].(map[string]any)
		var ls []string
		for k, v := range lbls {
			ls = append(ls, fmt.Sprintf("%s=%v", k, v))
			if k == "version" || k == "app.kubernetes.io/version" {
				versions[h.ns+"/"+h.name+"/"+name] = fmt.Sprint(v)
			}
		}
		sort.Strings(ls)
		tp.Subsets = append(tp.Subsets, name+": "+strings.Join(ls, ","))
	}
	return tp
}

func orAny(v, alt any) any {
	if v == nil {
		return alt
	}
	return v
}

// virtualServiceRoutes are the VirtualService's HTTP routes that send requests to one of
// ours (every route when one of its hosts is ours).
func virtualServiceRoutes(vs *unstructured.Unstructured, ours map[host]bool, versions map[string]string) []MeshRoute {
	hosts, _, _ := unstructured.NestedStringSlice(vs.Object, "spec", "hosts")
	gateways, _, _ := unstructured.NestedStringSlice(vs.Object, "spec", "gateways")
	hostOurs := false
	for _, h := range hosts {
		hostOurs = hostOurs || ours[parseHost(h, vs.GetNamespace())]
	}
	routes, _, _ := unstructured.NestedSlice(vs.Object, "spec", "http")
	var out []MeshRoute
	for i, r := range routes {
		rm, _ := r.(map[string]any)
		mr := MeshRoute{Source: "VirtualService " + vs.GetNamespace() + "/" + vs.GetName(), Hosts: hosts, Parents: gateways, Match: istioMatch(rm["match"])}
		if name, _ := rm["name"].(string); name != "" {
			mr.Rule = name
		} else {
			mr.Rule = fmt.Sprintf("http[%d]", i)
		}
		dests, _ := rm["route"].([]any)
		leads := hostOurs
		for _, d := range dests {
			dm, _ := d.(map[string]any)
			dst, _ := dm["destination"].(map[string]any)
			hs, _ := dst["host"].(string)
			h := parseHost(hs, vs.GetNamespace())
			rd := RouteDestination{Service: hs, Weight: 100, Ours: ours[h]}
			if h.ns != "" {
				rd.Ref = h.ns + "/" + h.name
			}
			rd.Subset, _ = dst["subset"].(string)
			if p, ok := dst["port"].(map[string]any); ok {
				rd.Port = fmt.Sprint(p["number"])
			}
			if w, ok := dm["weight"].(int64); ok {
				rd.Weight = w
			} else if len(dests) > 1 {
				rd.Weight = 0
			}
			rd.Version = versions[h.ns+"/"+h.name+"/"+rd.Subset]
			leads = leads || rd.Ours
			mr.Destinations = append(mr.Destinations, rd)
		}
		if !leads {
			continue
		}
		if t, ok := rm["timeout"].(string); ok {
			mr.Timeout = t
		}
		if rt, ok := rm["retries"].(map[string]any); ok {
			mr.Retries = fmt.Sprintf("%v attempts", orAny(rt["attempts"], 0))
			if pt, ok := rt["perTryTimeout"].(string); ok {
				mr.Retries += ", " + pt + " each"
			}
			if on, ok := rt["retryOn"].(string); ok {
				mr.Retries += ", on " + on
			}
		}
		if f, ok := rm["fault"].(map[string]any); ok {
			if d, ok := f["delay"].(map[string]any); ok {
				mr.Extras = append(mr.Extras, fmt.Sprintf("fault: delay %v for %v%% of requests", d["fixedDelay"], pct(d["percentage"])))
			}
			if a, ok := f["abort"].(map[string]any); ok {
				mr.Extras = append(mr.Extras, fmt.Sprintf("fault: abort with %v for %v%% of requests", a["httpStatus"], pct(a["percentage"])))
			}
		}
		if m, ok := rm["mirror"].(map[string]any); ok {
			mr.Extras = append(mr.Extras, fmt.Sprintf("mirrors to %v", m["host"]))
		}
		out = append(out, mr)
	}
	return out
}

func pct(v any) any {
	if m, ok := v.(map[string]any); ok {
		return m["value"]
	}
	return 100
}

// istioMatch says a route's match conditions in words.
func istioMatch(v any) string {
	ms, _ := v.([]any)
	var alts []string
	for _, m := range ms {
		mm, _ := m.(map[string]any)
		var parts []string
		if uri, ok := mm["uri"].(map[string]any); ok {
			for k, x := range uri {
				parts = append(parts, fmt.Sprintf("path %s %v", k, x))
			}
		}
		if hs, ok := mm["headers"].(map[string]any); ok {
			keys := make([]string, 0, len(hs))
			for k := range hs {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				hm, _ := hs[k].(map[string]any)
				for op, x := range hm {
					parts = append(parts, fmt.Sprintf("header %s %s %v", k, op, x))
				}
			}
		}
		if method, ok := mm["method"].(map[string]any); ok {
			for _, x := range method {
				parts = append(parts, fmt.Sprintf("method %v", x))
			}
		}
		if len(parts) > 0 {
			alts = append(alts, strings.Join(parts, " and "))
		}
	}
	if len(alts) == 0 {
		return "every request"
	}
	return strings.Join(alts, "; or ")
}

// httpRouteRules are the HTTPRoute's rules with a backend among ours.
func httpRouteRules(hr *unstructured.Unstructured, ours map[host]bool) []MeshRoute {
	hostnames, _, _ := unstructured.NestedStringSlice(hr.Object, "spec", "hostnames")
	parentRefs, _, _ := unstructured.NestedSlice(hr.Object, "spec", "parentRefs")
	var parents []string
	for _, p := range parentRefs {
		pm, _ := p.(map[string]any)
		name, _ := pm["name"].(string)
		ns, _ := pm["namespace"].(string)
		if ns == "" {
			ns = hr.GetNamespace()
		}
		parents = append(parents, "Gateway "+ns+"/"+name)
	}
	rules, _, _ := unstructured.NestedSlice(hr.Object, "spec", "rules")
	var out []MeshRoute
	for i, r := range rules {
		rm, _ := r.(map[string]any)
		mr := MeshRoute{Source: "HTTPRoute " + hr.GetNamespace() + "/" + hr.GetName(), Rule: fmt.Sprintf("rules[%d]", i), Hosts: hostnames, Parents: parents,
			Match: gatewayMatch(rm["matches"])}
		if name, _ := rm["name"].(string); name != "" {
			mr.Rule = name
		}
		backends, _ := rm["backendRefs"].([]any)
		var total int64
		leads := false
		for _, b := range backends {
			bm, _ := b.(map[string]any)
			if kind, _ := bm["kind"].(string); kind != "" && kind != "Service" {
				continue
			}
			name, _ := bm["name"].(string)
			ns, _ := bm["namespace"].(string)
			if ns == "" {
				ns = hr.GetNamespace()
			}
			rd := RouteDestination{Service: ns + "/" + name, Ref: ns + "/" + name, Weight: 1, Ours: ours[host{ns, name}]}
			if w, ok := bm["weight"].(int64); ok {
				rd.Weight = w
			}
			if p, ok := bm["port"].(int64); ok {
				rd.Port = fmt.Sprint(p)
			}
			total += rd.Weight
			leads = leads || rd.Ours
			mr.Destinations = append(mr.Destinations, rd)
		}
		if !leads {
			continue
		}
		for j := range mr.Destinations { // weights are relative in Gateway API: as percent
			if total > 0 {
				mr.Destinations[j].Weight = mr.Destinations[j].Weight * 100 / total
			}
		}
		if t, ok, _ := unstructured.NestedString(rm, "timeouts", "request"); ok {
			mr.Timeout = t
		}
		filters, _ := rm["filters"].([]any)
		for _, f := range filters {
			fm, _ := f.(map[string]any)
			if t, _ := fm["type"].(string); t != "" {
				mr.Extras = append(mr.Extras, "filter "+t)
			}
		}
		out = append(out, mr)
	}
	return out
}

func gatewayMatch(v any) string {
	ms, _ := v.([]any)
	var alts []string
	for _, m := range ms {
		mm, _ := m.(map[string]any)
		var parts []string
		if p, ok := mm["path"].(map[string]any); ok {
			parts = append(parts, fmt.Sprintf("path %v %v", orAny(p["type"], "PathPrefix"), p["value"]))
		}
		hs, _ := mm["headers"].([]any)
		for _, h := range hs {
			hm, _ := h.(map[string]any)
			parts = append(parts, fmt.Sprintf("header %v = %v", hm["name"], hm["value"]))
		}
		if method, ok := mm["method"].(string); ok {
			parts = append(parts, "method "+method)
		}
		if len(parts) > 0 {
			alts = append(alts, strings.Join(parts, " and "))
		}
	}
	if len(alts) == 0 {
		return "every request"
	}
	return strings.Join(alts, "; or ")
}

// istioAuthz describes an Istio AuthorizationPolicy's rules.
func istioAuthz(ap *unstructured.Unstructured, scope string) Authz {
	a := Authz{Source: "AuthorizationPolicy " + ap.GetNamespace() + "/" + ap.GetName(), Scope: scope, Action: orText(str(ap.Object, "spec", "action"), "ALLOW"), Rules: []string{}}
	rules, found, _ := unstructured.NestedSlice(ap.Object, "spec", "rules")
	if !found {
		if a.Action == "ALLOW" {
			a.Rules = append(a.Rules, "no rules: denies every request")
		}
		return a
	}
	for _, r := range rules {
		rm, _ := r.(map[string]any)
		var parts []string
		from, _ := rm["from"].([]any)
		for _, f := range from {
			src, _ := f.(map[string]any)["source"].(map[string]any)
			for _, k := range []string{"principals", "namespaces", "ipBlocks", "notPrincipals", "notNamespaces"} {
				if vs, ok := src[k].([]any); ok {
					parts = append(parts, fmt.Sprintf("from %s %v", k, joinAny(vs)))
				}
			}
		}
		to, _ := rm["to"].([]any)
		for _, t := range to {
			op, _ := t.(map[string]any)["operation"].(map[string]any)
			for _, k := range []string{"methods", "paths", "ports", "notPaths"} {
				if vs, ok := op[k].([]any); ok {
					parts = append(parts, fmt.Sprintf("%s %v", k, joinAny(vs)))
				}
			}
		}
		if len(parts) == 0 {
			parts = append(parts, "every request")
		}
		a.Rules = append(a.Rules, strings.Join(parts, ", "))
	}
	return a
}

func joinAny(vs []any) string {
	ss := make([]string, 0, len(vs))
	for _, v := range vs {
		ss = append(ss, fmt.Sprint(v))
	}
	return strings.Join(ss, ", ")
}

// linkerd adds Linkerd's view: each meshed workload's identity, the Servers selecting its
// pods and the AuthorizationPolicies (with their MeshTLSAuthentications) on those Servers.
func (cm *ClusterMesh) linkerd(c *Cluster, ws []workloadRef, nsList []string, list func(string, ...string) []*unstructured.Unstructured) {
	for _, w := range ws {
		inject := w.template.Annotations["linkerd.io/inject"]
		if obj, ok, _ := c.idx.namespaces.GetStore().GetByKey(w.namespace); ok && inject == "" {
			inject = obj.(*corev1.Namespace).Annotations["linkerd.io/inject"]
		}
		if inject == "enabled" {
			sa := w.template.Spec.ServiceAccountName
			if sa == "" {
				sa = "default"
			}
			cm.MTLS = append(cm.MTLS, MTLS{Source: "Linkerd proxy of " + w.kind + " " + w.name, Scope: "workload " + w.kind + " " + w.name,
				Mode: "meshed: identity " + sa + "." + w.namespace + ".serviceaccount.identity.linkerd.cluster.local"})
		}
	}
	servers := map[string]bool{} // ns/name of the Servers selecting our pods
	for _, s := range list("servers.policy.linkerd.io", nsList...) {
		sel, _, _ := unstructured.NestedStringMap(s.Object, "spec", "podSelector", "matchLabels")
		for _, w := range ws {
			if w.namespace == s.GetNamespace() && len(sel) > 0 && labels.SelectorFromSet(sel).Matches(labels.Set(w.template.Labels)) {
				servers[s.GetNamespace()+"/"+s.GetName()] = true
				port, _, _ := unstructured.NestedFieldNoCopy(s.Object, "spec", "port")
				proto := orText(str(s.Object, "spec", "proxyProtocol"), "unknown")
				cm.Authz = append(cm.Authz, Authz{Source: "Server " + s.GetNamespace() + "/" + s.GetName(), Scope: "workload " + w.kind + " " + w.name,
					Action: "SERVER", Rules: []string{fmt.Sprintf("port %v, protocol %s: only what its authorization policies allow reaches it", port, proto)}})
				break
			}
		}
	}
	authns := map[string][]string{}
	for _, m := range list("meshtlsauthentications.policy.linkerd.io", nsList...) {
		ids, _, _ := unstructured.NestedStringSlice(m.Object, "spec", "identities")
		refs, _, _ := unstructured.NestedSlice(m.Object, "spec", "identityRefs")
		for _, r := range refs {
			rm, _ := r.(map[string]any)
			ids = append(ids, fmt.Sprintf("%v %v", rm["kind"], rm["name"]))
		}
		authns[m.GetNamespace()+"/"+m.GetName()] = ids
	}
	for _, ap := range list("authorizationpolicies.policy.linkerd.io", nsList...) {
		kind, name := str(ap.Object, "spec", "targetRef", "kind"), str(ap.Object, "spec", "targetRef", "name")
		scope := ""
		switch {
		case kind == "Server" && servers[ap.GetNamespace()+"/"+name]:
			scope = "Server " + name
		case kind == "Namespace":
			scope = "namespace " + ap.GetNamespace()
		default:
			continue
		}
		a := Authz{Source: "AuthorizationPolicy " + ap.GetNamespace() + "/" + ap.GetName() + " (Linkerd)", Scope: scope, Action: "ALLOW", Rules: []string{}}
		refs, _, _ := unstructured.NestedSlice(ap.Object, "spec", "requiredAuthenticationRefs")
		for _, r := range refs {
			rm, _ := r.(map[string]any)
			rk, _ := rm["kind"].(string)
			rn, _ := rm["name"].(string)
			if rk == "MeshTLSAuthentication" {
				a.Rules = append(a.Rules, "mTLS identities "+strings.Join(authns[ap.GetNamespace()+"/"+rn], ", "))
			} else {
				a.Rules = append(a.Rules, rk+" "+rn)
			}
		}
		cm.Authz = append(cm.Authz, a)
	}
}
