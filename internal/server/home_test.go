package server

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"slices"
	"testing"

	"github.com/portico-dev/portico/internal/auth"
	"github.com/portico-dev/portico/internal/ingest"
	"github.com/portico-dev/portico/internal/runbooks"
	"github.com/portico-dev/portico/internal/store"
	"net/http/httptest"
)

// fakeAuth signs every request in as one user (the real flow is tested in auth_test.go).
type fakeAuth struct{ user auth.User }

func (f fakeAuth) Begin(http.ResponseWriter, *http.Request, string) (string, error) { return "/", nil }
func (f fakeAuth) Finish(http.ResponseWriter, *http.Request) (string, error)        { return "/", nil }
func (f fakeAuth) Current(http.ResponseWriter, *http.Request) (*auth.Session, error) {
	return &auth.Session{User: f.user}, nil
}
func (f fakeAuth) End(http.ResponseWriter, *http.Request, string) string { return "/" }
func (f fakeAuth) Bearer(context.Context, string) (auth.User, error) {
	return auth.User{}, errors.New("no bearer tokens here")
}

func TestMyServices(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite", filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	r := ingest.NewRefresher(st, []ingest.Source{&ingest.DirSource{SourceName: "local", Dir: filepath.Join("..", "..", "catalog"), Globs: []string{"**/*.yaml"}}}, ingest.Options{})
	r.RefreshAll(ctx)
	books, _ := runbooks.Open(filepath.Join("..", "..", "runbooks"))
	tests := []struct {
		name      string
		user      auth.User
		wantTeams []string
		wantSvc   string
	}{
		{"by OIDC group", auth.User{Subject: "x1", Name: "Alice", Groups: []string{"team-payments"}}, []string{"Payments"}, "Payment Service"},
		{"by catalog membership (e-mail)", auth.User{Subject: "x2", Email: "carla.mendes@acme.example"}, []string{"Identity"}, "Authentication Service"},
		{"no team", auth.User{Subject: "oscar.lind", Groups: []string{"viewers"}}, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := httptest.NewServer(New(Deps{Catalog: r, Runbooks: books, DB: st, Auth: fakeAuth{tt.user}}))
			defer ts.Close()
			p := &testPortal{Server: ts, refresher: r}
			d := p.doc(t, "/", http.StatusOK)
			teams := texts(d.Find(".page-head p a"))
			if !slices.Equal(teams, tt.wantTeams) {
				t.Errorf("teams = %v, want %v", teams, tt.wantTeams)
			}
			svcs := texts(d.Find("[data-testid=entity-link]"))
			if tt.wantSvc != "" && !slices.Contains(svcs, tt.wantSvc) {
				t.Errorf("services = %v, want %s among them", svcs, tt.wantSvc)
			}
			if tt.wantSvc == "" && d.Find("[data-testid=empty]").Length() == 0 {
				t.Error("a user without a team should see the explanation")
			}
		})
	}
}
