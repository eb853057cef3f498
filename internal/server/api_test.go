package server

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestAPIEntities(t *testing.T) {
	p := demoPortal(t)
	var list entityListJSON
	getJSON(t, p, "/api/v1/entities?kind=component&q=pay", http.StatusOK, &list)
	if list.Total != 2 || list.Items[0].Metadata.Name != "payment" || list.Next != "" { // legacy-billing mentions the Payment Service
		t.Fatalf("kind=component&q=pay: total %d next %q items %+v", list.Total, list.Next, list.Items)
	}
	if len(list.Items[0].Relations) == 0 {
		t.Error("API entities should carry their relations")
	}
	// Walk every page with the cursor: each entity exactly once.
	seen := map[string]bool{}
	cursor := ""
	for pages := 0; ; pages++ {
		var page entityListJSON
		getJSON(t, p, "/api/v1/entities?limit=10&cursor="+url.QueryEscape(cursor), http.StatusOK, &page)
		for _, it := range page.Items {
			k := it.Kind + ":" + it.Metadata.Namespace + "/" + it.Metadata.Name
			if seen[k] {
				t.Fatalf("%s returned twice", k)
			}
			seen[k] = true
		}
		if page.Next == "" {
			if len(seen) != page.Total {
				t.Errorf("walked %d entities, total says %d", len(seen), page.Total)
			}
			break
		}
		cursor = page.Next
		if pages > 20 {
			t.Fatal("cursor never ends")
		}
	}
	var one struct {
		Kind string `json:"kind"`
		Spec struct {
			Owner string `json:"owner"`
		} `json:"spec"`
	}
	getJSON(t, p, "/api/v1/entities/component/default/payment", http.StatusOK, &one)
	if one.Spec.Owner != "team-payments" {
		t.Errorf("entity owner = %q", one.Spec.Owner)
	}
	var errBody struct {
		Error struct{ Message string } `json:"error"`
	}
	getJSON(t, p, "/api/v1/entities/component/default/nope", http.StatusNotFound, &errBody)
	getJSON(t, p, "/api/v1/entities?cursor=garbage", http.StatusBadRequest, &errBody)
	if !strings.Contains(errBody.Error.Message, "cursor") {
		t.Errorf("bad cursor message = %q", errBody.Error.Message)
	}
	getJSON(t, p, "/api/v1/entities?limit=100000", http.StatusBadRequest, &errBody)
}

func TestAPICatalogErrors(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"good.yaml": "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata: {name: team-a}\nspec: {type: team, children: []}\n",
		"bad.yaml":  "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: x\nspec:\n  type: service\n",
	})
	p := newTestPortal(t, dir)
	var out struct {
		Items []struct {
			File     string `json:"file"`
			Line     int    `json:"line"`
			Severity string `json:"severity"`
			Message  string `json:"message"`
		} `json:"items"`
		Sources []struct {
			Name     string `json:"name"`
			Entities int    `json:"entities"`
		} `json:"sources"`
	}
	getJSON(t, p, "/api/v1/catalog/errors", http.StatusOK, &out)
	if len(out.Items) == 0 || out.Items[0].File != "bad.yaml" || out.Items[0].Line != 6 || out.Items[0].Severity != "error" {
		t.Errorf("errors = %+v", out.Items)
	}
	if len(out.Sources) != 1 || out.Sources[0].Entities != 1 {
		t.Errorf("sources = %+v", out.Sources)
	}
	d := p.doc(t, "/catalog/health", http.StatusOK)
	if got := d.Find("[data-testid=problem-row]").First().Text(); !strings.Contains(got, "bad.yaml:6:3") || !strings.Contains(got, "lifecycle") {
		t.Errorf("health row = %q", got)
	}
}

type entityListJSON struct {
	Items []struct {
		Kind     string `json:"kind"`
		Metadata struct {
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
		} `json:"metadata"`
		Relations []any `json:"relations"`
	} `json:"items"`
	Total int    `json:"total"`
	Next  string `json:"next"`
}

func getJSON(t *testing.T, p *testPortal, path string, wantStatus int, v any) {
	t.Helper()
	res, body := p.get(t, path)
	if res.StatusCode != wantStatus {
		t.Fatalf("GET %s = %d, want %d: %s", path, res.StatusCode, wantStatus, body)
	}
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("GET %s: %v\n%s", path, err, body)
	}
}
