package server

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/portico-dev/portico/internal/api"
	"github.com/portico-dev/portico/internal/catalog"
)

func toAPI(r *catalog.Record) api.Entity {
	return api.Entity{Entity: r.Entity, Orphan: r.Orphan(), Source: r.Source, File: r.File}
}

func (s *Server) handleAPIEntityList(c echo.Context) error {
	v := c.QueryParams()
	q, err := parseCatalogQuery(v)
	if err != nil {
		return err
	}
	if q.Limit, err = parsePositive(v, "limit", 50, maxPageSize); err != nil {
		return err
	}
	if q.Offset, err = decodeCursor(v.Get("cursor")); err != nil {
		return err
	}
	snap := s.Catalog.Snapshot()
	q.Visible = s.scope(c, snap).Filter() // totals and cursors count only what the user may view
	res := snap.Search(q)
	out := api.EntityList{Items: make([]api.Entity, 0, len(res.Items)), Total: res.Total}
	for _, r := range res.Items {
		out.Items = append(out.Items, toAPI(r))
	}
	if next := q.Offset + len(res.Items); next < res.Total {
		out.Next = encodeCursor(next)
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) handleAPIEntityShow(c echo.Context) error {
	_, rec, err := scopedEntity(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toAPI(rec))
}

func (s *Server) handleAPICatalogErrors(c echo.Context) error {
	snap := s.Catalog.Snapshot()
	ps := visibleProblems(snap, s.scope(c, snap))
	if ps == nil {
		ps = []catalog.Problem{}
	}
	var sources []apiSource
	for _, st := range s.Catalog.Statuses() {
		sources = append(sources, apiSource{Name: st.Name, Location: st.Location, Revision: st.Revision, RefreshedAt: st.RefreshedAt,
			Error: st.Error, Entities: st.Entities, DurationMs: st.Duration.Milliseconds()})
	}
	return c.JSON(http.StatusOK, map[string]any{"items": ps, "total": len(ps), "sources": sources})
}

// apiSource is a catalog source's last refresh as the JSON API reports it.
type apiSource struct {
	Name        string    `json:"name"`
	Location    string    `json:"location"`
	Revision    string    `json:"revision,omitempty"`
	RefreshedAt time.Time `json:"refreshedAt"`
	Error       string    `json:"error,omitempty"`
	Entities    int       `json:"entities"`
	DurationMs  int64     `json:"durationMs"`
}
