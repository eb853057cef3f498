package server

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/portico-dev/portico/internal/api"
	"github.com/portico-dev/portico/internal/catalog"
	"github.com/portico-dev/portico/internal/cluster"
	"github.com/portico-dev/portico/internal/derrors"
	"github.com/portico-dev/portico/web/components"
)

// logsRequest reads ?cluster, namespace, pod or workload, container, tail and previous, and
// the component's mapping; only pods the component selects can be read.
func (s *Server) logsRequest(c echo.Context) (*catalog.Record, cluster.Query, cluster.LogRequest, error) {
	_, rec, err := scopedEntity(c)
	if err != nil {
		return nil, cluster.Query{}, cluster.LogRequest{}, err
	}
	q, mapped, err := cluster.QueryFor(rec.Entity.Metadata.Annotations)
	if !mapped || err != nil || s.Clusters == nil {
		return nil, q, cluster.LogRequest{}, fmt.Errorf("%w: %s does not run in a configured cluster", derrors.NotFound, rec.Entity.Ref().Short())
	}
	v := c.QueryParams()
	r := cluster.LogRequest{Cluster: v.Get("cluster"), Namespace: v.Get("namespace"), Pod: v.Get("pod"), Workload: v.Get("workload"),
		Container: v.Get("container"), Previous: v.Get("previous") == "1", Tail: cluster.DefaultTailLine}
	if r.Cluster == "" || r.Namespace == "" || (r.Pod == "") == (r.Workload == "") {
		return nil, q, r, fmt.Errorf("%w: Name a cluster, a namespace and either a pod or a workload", derrors.Invalid)
	}
	tail, err := parsePositive(v, "tail", cluster.DefaultTailLine, cluster.MaxTailLines)
	if err != nil {
		return nil, q, r, err
	}
	r.Tail = int64(tail)
	return rec, q, r, nil
}

func (s *Server) handleLogsShow(c echo.Context) error {
	rec, q, r, err := s.logsRequest(c)
	if err != nil {
		return err
	}
	lines, err := s.Clusters.Logs(c.Request().Context(), q, r)
	if errors.Is(err, cluster.ErrNotComponents) {
		return fmt.Errorf("%w: %v", derrors.NotFound, err)
	}
	vm := components.Logs{Entity: components.Link{Label: rec.Entity.DisplayName(), Href: entityHref(rec.Entity.Ref())}, Cluster: r.Cluster,
		Target: "pod " + r.Namespace + "/" + r.Pod, Capped: int64(len(lines)) >= r.Tail}
	if r.Workload != "" {
		vm.Target = "all pods of " + r.Namespace + "/" + r.Workload
	}
	if err != nil {
		vm.Error = "The logs could not be read: " + err.Error()
	}
	for _, l := range lines {
		vm.Lines = append(vm.Lines, logLineVM(l))
	}
	base := c.Request().URL.Query()
	for _, n := range []int{100, 200, 1000, 5000} {
		v := cloneValues(base)
		v.Set("tail", strconv.Itoa(n))
		vm.Tail = append(vm.Tail, components.Option{Label: "last " + strconv.Itoa(n), Value: "?" + v.Encode(), Selected: int64(n) == r.Tail})
	}
	prev := cloneValues(base)
	if r.Previous {
		prev.Del("previous")
		vm.Previous = components.Link{Label: "current container", Href: "?" + prev.Encode()}
	} else {
		prev.Set("previous", "1")
		vm.Previous = components.Link{Label: "previous container", Href: "?" + prev.Encode()}
	}
	if r.Pod != "" && !r.Previous {
		vm.FollowURL = c.Request().URL.Path + "/stream?" + base.Encode()
	}
	return s.page(c, http.StatusOK, components.Page{Title: "Logs · " + rec.Entity.DisplayName(), Nav: "catalog"}, components.LogsView(vm))
}

// handleAPILogs is GET /api/v1/entities/…/logs?cluster&namespace&pod|workload[&container]
// [&tail][&previous=1].
func (s *Server) handleAPILogs(c echo.Context) error {
	_, q, r, err := s.logsRequest(c)
	if err != nil {
		return err
	}
	lines, err := s.Clusters.Logs(c.Request().Context(), q, r)
	if errors.Is(err, cluster.ErrNotComponents) {
		return fmt.Errorf("%w: %v", derrors.NotFound, err)
	}
	if err != nil {
		return fmt.Errorf("%w: The logs could not be read: %v", derrors.Unavailable, err)
	}
	out := api.Logs{Cluster: r.Cluster, Namespace: r.Namespace, Target: "pod " + r.Pod, Lines: lines, Capped: int64(len(lines)) >= r.Tail}
	if r.Workload != "" {
		out.Target = "all pods of " + r.Workload
	}
	if out.Lines == nil {
		out.Lines = []cluster.LogLine{}
	}
	return c.JSON(http.StatusOK, out)
}

// handleLogsStream follows one pod's container, sending each new line as an SSE "line" event
// holding the escaped HTML of the line.
func (s *Server) handleLogsStream(c echo.Context) error {
	_, q, r, err := s.logsRequest(c)
	if err != nil {
		return c.NoContent(http.StatusNoContent)
	}
	w := c.Response()
	_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	w.Flush()
	var buf bytes.Buffer
	err = s.Clusters.FollowLogs(c.Request().Context(), q, r, func(l cluster.LogLine) error {
		buf.Reset()
		if err := components.LogLineView(logLineVM(l)).Render(c.Request().Context(), &buf); err != nil {
			return err
		}
		_, _ = io.WriteString(w, sseEvent("line", buf.String()))
		w.Flush()
		return nil
	})
	if err != nil && c.Request().Context().Err() == nil {
		s.Log.Info("log stream ended", "err", err)
	}
	return nil
}

func logLineVM(l cluster.LogLine) components.LogLine {
	vm := components.LogLine{Pod: l.Pod, Text: l.Text}
	if !l.Time.IsZero() {
		vm.Time = l.Time.UTC().Format("15:04:05.000")
	}
	switch low := strings.ToLower(l.Text); {
	case strings.Contains(low, `"level":"error"`) || strings.Contains(low, "level=error") || strings.Contains(low, " error "):
		vm.Level = "error"
	case strings.Contains(low, `"level":"warn`) || strings.Contains(low, "level=warn"):
		vm.Level = "warn"
	}
	return vm
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}
