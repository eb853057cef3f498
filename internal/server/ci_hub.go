package server

import (
	"net/http"
	"slices"
	"sync"

	"github.com/labstack/echo/v4"
)

// ciHub tells open pipeline panels that a delivery for their projects arrived, so the stage
// strips follow a run live. It hears deliveries stored by any replica (through the bus); a
// panel whose replica missed one still refreshes itself every 30 seconds.
type ciHub struct {
	mu   sync.Mutex
	subs map[chan struct{}][]string
}

func (h *ciHub) subscribe(projects []string) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	h.mu.Lock()
	if h.subs == nil {
		h.subs = map[chan struct{}][]string{}
	}
	h.subs[ch] = projects
	h.mu.Unlock()
	return ch, func() {
		h.mu.Lock()
		delete(h.subs, ch)
		h.mu.Unlock()
	}
}

func (h *ciHub) notify(project string) {
	h.signal(func(projects []string) bool { return slices.Contains(projects, project) })
}

// notifyAll tells every open panel.
func (h *ciHub) notifyAll() { h.signal(func([]string) bool { return true }) }

func (h *ciHub) signal(concerns func(projects []string) bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch, projects := range h.subs {
		if concerns(projects) {
			select {
			case ch <- struct{}{}:
			default: // a change is already pending for this panel
			}
		}
	}
}

// handlePipelineEvents streams "changed" while deliveries for the component's repositories
// arrive; the pipelines panel reloads itself on each.
func (s *Server) handlePipelineEvents(c echo.Context) error {
	_, rec, err := scopedEntity(c)
	if err != nil {
		return err
	}
	projects := rec.Entity.ProjectSlugs()
	if len(projects) == 0 || s.Pipelines == nil {
		return c.NoContent(http.StatusNoContent)
	}
	changed, unsubscribe := s.ciEvents.subscribe(projects)
	defer unsubscribe()
	return streamChanges(c, changed)
}
