package testenv

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // driver "pgx"

	"github.com/portico-dev/portico/internal/devstack"
)

var (
	pgOnce sync.Once
	pgBase string // DSN of the server's postgres database
	pgErr  error
	pgSeq  atomic.Int64
)

// PostgresDSN returns the DSN of a new, empty database on a real PostgreSQL server. The server
// is started once per test binary (initdb into a temporary folder, fsync off), or taken from
// PORTICO_TEST_POSTGRES_DSN when that is set.
func PostgresDSN(tb testing.TB) string {
	tb.Helper()
	pgOnce.Do(func() {
		if dsn := os.Getenv("PORTICO_TEST_POSTGRES_DSN"); dsn != "" {
			pgBase = dsn
			return
		}
		var stop func()
		pgBase, stop, pgErr = StartPostgres()
		if pgErr == nil {
			onStop(stop)
		}
	})
	if pgErr != nil {
		tb.Fatalf("PostgreSQL is required for this test and could not start: %v", pgErr)
	}
	dsn, err := createDatabase(context.Background(), pgBase, fmt.Sprintf("portico_test_%d_%d", os.Getpid(), pgSeq.Add(1)))
	if err != nil {
		tb.Fatal(err)
	}
	return dsn
}

// createDatabase creates an empty database on the server of dsn and returns its DSN.
func createDatabase(ctx context.Context, dsn, name string) (string, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return "", err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	return withDatabase(dsn, name), nil
}

// Database creates an empty database named name on the server and returns its DSN.
func (s *PostgresServer) Database(ctx context.Context, name string) (string, error) {
	return createDatabase(ctx, s.DSN, name)
}

func withDatabase(dsn, name string) string {
	return dsn + " dbname=" + name
}

// postgresBin finds PostgreSQL's server programs (Debian keeps them outside PATH).
func postgresBin() (string, error) {
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(matches) > 0 {
		return filepath.Dir(matches[len(matches)-1]), nil
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", fmt.Errorf("initdb not found: install the postgresql package (apt-get install postgresql)")
}

// StartPostgres starts a throwaway PostgreSQL server and returns the DSN of its postgres
// database and a function that stops it and removes its files.
func StartPostgres() (dsn string, stop func(), err error) {
	s, err := StartPostgresServer()
	if err != nil {
		return "", nil, err
	}
	return s.DSN, s.Stop, nil
}

// PostgresServer is a throwaway PostgreSQL server a program controls (the soak restarts it).
type PostgresServer struct {
	DSN string // of its postgres database

	run       func(args ...string) error
	bin, data string
	opts, log string
	dir       string
}

// StartPostgresServer starts a throwaway PostgreSQL server (fsync off) on a reserved port.
func StartPostgresServer() (*PostgresServer, error) {
	return retryOnPortClash(func() (*PostgresServer, error) {
		s, err := startPostgres()
		if err != nil && s != nil {
			s.Stop()
		}
		return s, err
	})
}

// Stop stops the server at once and removes its files.
func (s *PostgresServer) Stop() {
	_ = s.run(filepath.Join(s.bin, "pg_ctl"), "-D", s.data, "-m", "immediate", "stop")
	os.RemoveAll(s.dir)
}

// Restart stops the server the way a crash would (Halt) and starts it again on the same port.
func (s *PostgresServer) Restart() error {
	if err := s.Halt(); err != nil {
		return err
	}
	return s.start()
}

// Halt stops the server the way a crash would (immediate: connections cut, no checkpoint),
// keeping its files; Resume starts it again.
func (s *PostgresServer) Halt() error {
	return s.run(filepath.Join(s.bin, "pg_ctl"), "-D", s.data, "-m", "immediate", "stop")
}

// Resume starts the server again after Halt, on the same port, and waits until it accepts
// connections.
func (s *PostgresServer) Resume() error { return s.start() }

func (s *PostgresServer) start() error {
	if err := s.run(filepath.Join(s.bin, "pg_ctl"), "-D", s.data, "-l", s.log, "-o", s.opts, "-w", "-t", "30", "start"); err != nil {
		return err
	}
	return nil
}

func startPostgres() (*PostgresServer, error) {
	bin, err := postgresBin()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "portico-pg-")
	if err != nil {
		return nil, err
	}
	// initdb refuses to run as root: run the server as the postgres user then.
	var asUser []string
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root needs the postgres user: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, err
		}
		asUser = []string{"runuser", "-u", "postgres", "--"}
	}
	run := func(args ...string) error {
		full := append(append([]string{}, asUser...), args...)
		cmd := exec.Command(full[0], full[1:]...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s: %v\n%s", filepath.Base(args[0]), err, out)
		}
		return nil
	}
	s := &PostgresServer{run: run, bin: bin, data: filepath.Join(dir, "data"), dir: dir, log: filepath.Join(dir, "postgres.log")}
	if err := run(filepath.Join(bin, "initdb"), "-D", s.data, "-U", "postgres", "-A", "trust", "--no-sync"); err != nil {
		return s, err
	}
	port, err := ReservePort()
	if err != nil {
		return s, err
	}
	s.opts = fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200", port, dir)
	if err := s.start(); err != nil {
		// PostgreSQL words it "could not bind IPv4 address "127.0.0.1": Address already in use".
		if b, _ := os.ReadFile(s.log); strings.Contains(strings.ToLower(string(b)), "address already in use") {
			return s, fmt.Errorf("%w\nlog:\n%s", &devstack.PortInUseError{Component: "postgres", Port: port, Holder: devstack.PortHolder(port)}, tail(s.log, 5))
		}
		return s, fmt.Errorf("%v\nlog:\n%s", err, tail(s.log, 20))
	}
	dsn := fmt.Sprintf("host=127.0.0.1 port=%d user=postgres sslmode=disable", port)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	db, _ := sql.Open("pgx", dsn+" dbname=postgres")
	defer db.Close()
	if err := db.PingContext(ctx); err != nil {
		return s, fmt.Errorf("PostgreSQL started but does not answer: %v\nlog:\n%s", err, tail(s.log, 20))
	}
	s.DSN = dsn + " dbname=postgres"
	return s, nil
}
