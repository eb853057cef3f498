package store

import (
	"context"
	"errors"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/portico-dev/portico/internal/derrors"
	"github.com/portico-dev/portico/internal/testenv"
)

// A restart of PostgreSQL kills every pooled connection at once; reads go on, and a database
// that stays down is "unavailable", the kind pages show as a message.
func TestReadsSurviveADatabaseRestart(t *testing.T) {
	pg, err := testenv.StartPostgresServer() // a server of its own: this test stops it
	if err != nil {
		t.Fatalf("PostgreSQL is required: %v", err)
	}
	defer pg.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	st, err := Open(ctx, "postgres", pg.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	st.db.SetMaxIdleConns(8)
	reads := func() []error {
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = st.ActiveExemptions(ctx, time.Now())
			}()
		}
		wg.Wait()
		return errs
	}
	for _, err := range reads() { // the pool holds several connections now
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := pg.Restart(); err != nil {
		t.Fatal(err)
	}
	for i, err := range reads() {
		if err != nil {
			t.Errorf("read %d right after the restart: %v", i, err)
		}
	}

	if err := pg.Halt(); err != nil {
		t.Fatal(err)
	}
	_, err = st.ActiveExemptions(ctx, time.Now())
	if !errors.Is(err, derrors.Unavailable) {
		t.Errorf("a read while the database is down = %v, want it unavailable", err)
	}
	if err := pg.Resume(); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ActiveExemptions(ctx, time.Now()); err != nil {
		t.Errorf("a read after the database is back: %v", err)
	}
}

func TestConnectionLost(t *testing.T) {
	for _, c := range []struct {
		err  error
		lost bool
	}{
		{errors.New("syntax error at or near"), false},
		{context.Canceled, false},
		{errors.Join(errors.New("read"), errConnRefused()), true},
	} {
		if got := connectionLost(c.err); got != c.lost {
			t.Errorf("connectionLost(%v) = %v, want %v", c.err, got, c.lost)
		}
	}
	if !readOnly("  select 1") || readOnly("INSERT INTO x VALUES (1) RETURNING id") || readOnly("sel") || readOnly("     sel") {
		t.Error("readOnly misreads a statement")
	}
}

func errConnRefused() error { return &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED} }
