package server

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/portico-dev/portico/internal/catalog"
	"github.com/portico-dev/portico/internal/derrors"
)

const (
	defaultPageSize = 25
	maxPageSize     = 200
)

// parseCatalogQuery reads the search, facet filters and order shared by the catalog pages
// and the JSON API. Pagination is read by each, as the UI uses pages and the API cursors.
func parseCatalogQuery(v url.Values) (catalog.Query, error) {
	var q catalog.Query
	q.Text = strings.TrimSpace(v.Get("q"))
	if len(q.Text) > 200 {
		return q, fmt.Errorf("%w: The search text is longer than 200 characters", derrors.Invalid)
	}
	for f, name := range catalog.FacetNames {
		for _, val := range v[name] {
			if val = strings.TrimSpace(val); val != "" {
				q.Filters[f] = append(q.Filters[f], val)
			}
		}
	}
	q.Sort = v.Get("sort")
	if q.Sort != "" && !slices.Contains(catalog.SortOrders, q.Sort) {
		return q, fmt.Errorf("%w: Sort must be one of %s", derrors.Invalid, strings.Join(catalog.SortOrders, ", "))
	}
	return q, nil
}

func parsePositive(v url.Values, key string, def, max int) (int, error) {
	s := v.Get(key)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > max {
		return 0, fmt.Errorf("%w: %s must be a whole number from 1 to %d", derrors.Invalid, key, max)
	}
	return n, nil
}

// Cursors are opaque to clients; today they carry an offset.
func encodeCursor(offset int) string {
	return base64.RawURLEncoding.EncodeToString([]byte("o:" + strconv.Itoa(offset)))
}

func decodeCursor(s string) (int, error) {
	if s == "" {
		return 0, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		if n, err := strconv.Atoi(strings.TrimPrefix(string(b), "o:")); err == nil && n >= 0 && strings.HasPrefix(string(b), "o:") {
			return n, nil
		}
	}
	return 0, fmt.Errorf("%w: The cursor is not one this API returned", derrors.Invalid)
}

// withParam returns the query string with key's value val toggled (facets) and the page reset.
func toggled(v url.Values, key, val string) url.Values {
	out := url.Values{}
	for k, vs := range v {
		if k != "page" {
			out[k] = append([]string(nil), vs...)
		}
	}
	cur := out[key]
	if i := slices.IndexFunc(cur, func(x string) bool { return strings.EqualFold(x, val) }); i >= 0 {
		out[key] = slices.Delete(cur, i, i+1)
	} else {
		out[key] = append(cur, val)
	}
	if len(out[key]) == 0 {
		delete(out, key)
	}
	return out
}

func href(path string, v url.Values) string {
	if len(v) == 0 {
		return path
	}
	return path + "?" + v.Encode()
}
