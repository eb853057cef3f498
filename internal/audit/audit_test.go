package audit

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/portico-dev/portico/internal/store"
	"github.com/portico-dev/portico/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

func TestIntentThenResult(t *testing.T) {
	for _, driver := range []string{"sqlite", "postgres"} {
		t.Run(driver, func(t *testing.T) {
			dsn := filepath.Join(t.TempDir(), "a.db")
			if driver == "postgres" {
				dsn = testenv.PostgresDSN(t)
			}
			st, err := store.Open(context.Background(), driver, dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			l := New(st.Client, nil)
			ctx := context.Background()
			e := Entry{RequestID: "r1", Actor: "alice.nguyen", Groups: []string{"team-payments"}, SourceIP: "10.1.2.3", Action: "scale",
				Params: `{"replicas":5}`, Cluster: "production", Namespace: "payments", Kind: "Deployment", Name: "payment", Before: "replicas=3"}
			first, err := l.Begin(ctx, e)
			if err != nil {
				t.Fatal(err)
			}
			id := first.ID
			// A crash here leaves the intent on record.
			got, _ := l.List(ctx, Filter{Name: "payment"})
			if len(got) != 1 || got[0].Result != Pending || got[0].Groups[0] != "team-payments" {
				t.Fatalf("intent = %+v", got)
			}
			if err := l.Finish(ctx, id, Succeeded, "replicas=5", nil); err != nil {
				t.Fatal(err)
			}
			if err := l.Finish(ctx, id, Failed, "", errors.New("late")); !errors.Is(err, ErrFinished) {
				t.Errorf("second Finish = %v, want ErrFinished", err)
			}
			e2, _ := l.Begin(ctx, Entry{RequestID: "r2", Actor: "carla.mendes", Action: "deploy", Cluster: "production", Namespace: "payments", Name: "payment"})
			_ = l.Finish(ctx, e2.ID, Denied, "", errors.New("carla.mendes may not deploy payment"))
			got, _ = l.List(ctx, Filter{Name: "payment"})
			if len(got) != 2 || got[0].Result != Denied || got[1].Result != Succeeded || got[1].After != "replicas=5" || got[1].FinishedAt.IsZero() {
				t.Errorf("entries = %+v", got)
			}
			if denied, _ := l.List(ctx, Filter{Result: Denied}); len(denied) != 1 || denied[0].Error == "" {
				t.Errorf("denied = %+v", denied)
			}
			if _, err := l.Begin(ctx, Entry{Action: "scale"}); err == nil {
				t.Error("an entry without actor and request ID must be refused")
			}

			// A form submitted twice acts once: the second Begin finds the first entry.
			k := Entry{RequestID: "r3", IdempotencyKey: "form-123", Actor: "alice.nguyen", Action: "restart", Name: "payment"}
			one, err := l.Begin(ctx, k)
			if err != nil {
				t.Fatal(err)
			}
			k.RequestID = "r4"
			two, err := l.Begin(ctx, k)
			if !errors.Is(err, ErrDuplicate) || two.ID != one.ID || two.RequestID != "r3" {
				t.Errorf("second submit = %+v, %v; want the first entry and ErrDuplicate", two, err)
			}

			// The database itself refuses to delete or rewrite entries, whatever the code does.
			if _, err := st.Client.AuditEntry.Delete().Exec(ctx); err == nil {
				t.Error("deleting audit entries succeeded")
			}
			if _, err := st.Client.AuditEntry.UpdateOneID(id).SetResult("failed").Save(ctx); err == nil {
				t.Error("rewriting a completed entry succeeded")
			}
			if _, err := st.Client.AuditEntry.UpdateOneID(one.ID).SetAfter("x").SetResult("succeeded").Save(ctx); err != nil {
				t.Errorf("completing a pending entry: %v", err)
			}
			if n, _ := st.Client.AuditEntry.Query().Count(ctx); n != 3 {
				t.Errorf("entries = %d, want 3", n)
			}
		})
	}
}
