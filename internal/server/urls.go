package server

import (
	"net/url"
	"strings"

	"github.com/portico-dev/portico/internal/catalog"
)

// The portal's own addresses, built in one place with every part escaped.

// entityHref is an entity page's address.
func entityHref(r catalog.Ref) string {
	return "/catalog/" + url.PathEscape(strings.ToLower(r.Kind)) + "/" + url.PathEscape(r.Namespace) + "/" + url.PathEscape(r.Name)
}

// workloadHref is the page of one of an entity's workloads.
func workloadHref(r catalog.Ref, clusterName, namespace, name string) string {
	return entityHref(r) + workloadPath(clusterName, namespace, name)
}

// workloadPath is the part of a workload's address after its entity's.
func workloadPath(clusterName, namespace, name string) string {
	return "/workloads/" + url.PathEscape(clusterName) + "/" + url.PathEscape(namespace) + "/" + url.PathEscape(name)
}

// runbookHref is a runbook's page, by its path in the runbooks folder.
func runbookHref(path string) string {
	parts := strings.Split(path, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return "/runbooks/" + strings.Join(parts, "/")
}

// traceHref is a trace's waterfall page, with the page it was opened from.
func traceHref(id, from string) string {
	return "/traces/" + url.PathEscape(id) + "?from=" + url.QueryEscape(from)
}

// auditHref is the audit log filtered by one key (entity, actor, …).
func auditHref(key, value string) string { return "/audit?" + url.Values{key: {value}}.Encode() }
