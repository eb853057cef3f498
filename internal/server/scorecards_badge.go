package server

import (
	"fmt"
	"html"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/portico-dev/portico/internal/catalog"
	"github.com/portico-dev/portico/internal/derrors"
)

// badgePrefix is where the scorecard badges are: /badges/scorecard/{kind}/{namespace}/{name}.
const badgePrefix = "/badges/scorecard/"

// badgeColours are the right half's colour by level (AA contrast with white text).
var badgeColours = map[string]string{"": "#8a2c2c", "bronze": "#8a4b14", "silver": "#4a5566", "gold": "#7a5c00"}

// handleScorecardBadge is a service's level and score as an SVG badge, for its README.
// Unless badges are public it answers only those who may view the service (404 otherwise,
// as for its page).
func (s *Server) handleScorecardBadge(c echo.Context) error {
	snap := s.Catalog.Snapshot()
	ref := catalog.Ref{Kind: c.Param("kind"), Namespace: c.Param("namespace"), Name: strings.TrimSuffix(c.Param("name"), ".svg")}
	rec, ok := snap.Get(ref)
	if !ok || !scoredEntity(rec.Entity) || (!s.PublicBadges && !s.scope(c, snap).Record(rec)) {
		return fmt.Errorf("%w: No scored service %s", derrors.NotFound, ref.Short())
	}
	card := s.cardOf(c.Request().Context(), snap, rec)
	right := fmt.Sprintf("%d%%", card.Card.Score)
	if card.Card.Level != "" {
		right = card.Card.Level + " · " + right
	}
	colour := badgeColours[card.Card.Level]
	if colour == "" {
		colour = badgeColours["silver"]
	}
	c.Response().Header().Set("Cache-Control", "max-age=300")
	return c.Blob(http.StatusOK, "image/svg+xml", []byte(badgeSVG("scorecard", right, colour)))
}

// badgeSVG draws a two-part badge, sized to its text (about 7 px a character at 11 px).
func badgeSVG(left, right, colour string) string {
	lw, rw := 10+7*utf8.RuneCountInString(left), 10+7*utf8.RuneCountInString(right)
	w := lw + rw
	l, r := html.EscapeString(left), html.EscapeString(right)
	return fmt.Sprintf(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="20" role="img" aria-label="%s: %s">`+
		`<title>%s: %s</title><rect width="%d" height="20" rx="3" fill="#3b4350"/><rect x="%d" width="%d" height="20" rx="3" fill="%s"/>`+
		`<rect x="%d" width="4" height="20" fill="%s"/>`+
		`<g fill="#fff" font-family="Verdana,DejaVu Sans,sans-serif" font-size="11"><text x="%d" y="14">%s</text><text x="%d" y="14">%s</text></g></svg>`,
		w, l, r, l, r, w, lw, rw, colour, lw, colour, 5, l, lw+5, r)
}
