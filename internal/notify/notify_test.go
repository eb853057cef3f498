package notify_test

import (
	"context"
	"database/sql"
	"log/slog"
	"os"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/portico-dev/portico/internal/notify"
	"github.com/portico-dev/portico/internal/store"
	"github.com/portico-dev/portico/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

// A notice published on one replica's bus reaches the other's subscribers (not marked
// local) and its own at once (marked local, and not a second time when PostgreSQL echoes it);
// when the listening connection is cut, the bus connects again and tells its subscribers to
// resync, then hears notices again.
func TestNoticesReachTheOtherReplica(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := store.Open(ctx, "postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	log := slog.New(slog.DiscardHandler)
	a, b := notify.NewPostgres(dsn, "a", st, log), notify.NewPostgres(dsn, "b", st, log)
	heardA, heardB := make(chan notify.Notice, 8), make(chan notify.Notice, 8)
	a.Subscribe("ci", func(n notify.Notice) { heardA <- n })
	b.Subscribe("ci", func(n notify.Notice) { heardB <- n })
	b.Subscribe("other", func(n notify.Notice) {
		if !n.Resync { // every topic is told to resync
			t.Errorf("a notice on another topic: %+v", n)
		}
	})
	go a.Run(ctx)
	go b.Run(ctx)
	waitListening(t, a, b)

	if err := a.Publish(ctx, "ci", "acme/ledger"); err != nil {
		t.Fatal(err)
	}
	if n := next(t, heardA); n != (notify.Notice{Topic: "ci", Key: "acme/ledger", Local: true}) {
		t.Errorf("the publisher heard %+v", n)
	}
	if n := next(t, heardB); n != (notify.Notice{Topic: "ci", Key: "acme/ledger"}) {
		t.Errorf("the other replica heard %+v", n)
	}
	select {
	case n := <-heardA:
		t.Errorf("the publisher heard its own notice twice: %+v", n)
	case <-time.After(300 * time.Millisecond):
	}

	// Cut b's listening connection, as a database restart or a network fault would.
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var cut int
	if err := db.QueryRowContext(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE query LIKE 'LISTEN%' AND datname = current_database()`).Scan(&cut); err != nil || cut < 2 {
		t.Fatalf("cut the listening connections: %d, %v", cut, err)
	}
	if n := next(t, heardB); n != (notify.Notice{Topic: "ci", Resync: true}) {
		t.Errorf("after reconnecting, b's subscriber got %+v, want a resync", n)
	}
	next(t, heardA) // a's resync
	waitListening(t, a, b)
	if err := a.Publish(ctx, "ci", "acme/fx-rates"); err != nil {
		t.Fatal(err)
	}
	next(t, heardA)
	if n := next(t, heardB); n.Key != "acme/fx-rates" {
		t.Errorf("after reconnecting, b heard %+v", n)
	}
}

// The local bus delivers at once, to the topic's subscribers only.
func TestLocalBus(t *testing.T) {
	var l notify.Local
	var got []notify.Notice
	l.Subscribe("catalog", func(n notify.Notice) { got = append(got, n) })
	_ = l.Publish(context.Background(), "catalog", "local")
	_ = l.Publish(context.Background(), "ci", "acme/ledger")
	if len(got) != 1 || got[0] != (notify.Notice{Topic: "catalog", Key: "local", Local: true}) {
		t.Errorf("got %+v", got)
	}
}

func waitListening(t *testing.T, buses ...*notify.Postgres) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		all := true
		for _, b := range buses {
			all = all && b.Listening()
		}
		if all {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the buses do not listen")
		}
	}
}

func next(t *testing.T, ch <-chan notify.Notice) notify.Notice {
	t.Helper()
	select {
	case n := <-ch:
		return n
	case <-time.After(10 * time.Second):
		t.Fatal("no notice within 10 s")
		return notify.Notice{}
	}
}
