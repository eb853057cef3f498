package testenv

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portico-dev/portico/internal/devstack"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// RepoRoot is the repository's top folder: where the main module's go.mod is, found from the
// current module's (a tool module such as deploy/helm sits below it).
func RepoRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", err
	}
	dir := filepath.Dir(strings.TrimSpace(string(out)))
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "deploy", "local", "versions.env")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return dir, nil
		}
	}
}

// PortalBinary builds cmd/portico once per test binary and returns its path.
func PortalBinary(tb testing.TB) string {
	tb.Helper()
	binOnce.Do(func() {
		root, err := RepoRoot()
		if err != nil {
			binErr = err
			return
		}
		dir, err := os.MkdirTemp("", "portico-bin-")
		if err != nil {
			binErr = err
			return
		}
		onStop(func() { os.RemoveAll(dir) })
		binPath = filepath.Join(dir, "portico")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/portico")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		tb.Fatal(binErr)
	}
	return binPath
}

// Portal is a running `portico serve` process.
type Portal struct {
	URL string
	Log string // path of its log file

	bin, addr, dir string
	args, env      []string
	runs           int
	cmd            *exec.Cmd
	done           chan struct{}
}

// StartPortal runs the portal with env (PORTICO_* settings) on a free port and waits until it
// is ready. It is stopped when the test ends.
func StartPortal(tb testing.TB, env ...string) *Portal {
	tb.Helper()
	return startPortal(tb, nil, env)
}

// StartPortalWithConfig is StartPortal with a configuration file holding configYAML.
func StartPortalWithConfig(tb testing.TB, configYAML string, env ...string) *Portal {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "portico.yaml")
	if err := os.WriteFile(path, []byte(configYAML), 0o644); err != nil {
		tb.Fatal(err)
	}
	return startPortal(tb, []string{"--config", path}, env)
}

func startPortal(tb testing.TB, args, env []string) *Portal {
	tb.Helper()
	bin := PortalBinary(tb)
	p, err := newPortal(bin, tb.TempDir(), args, env)
	if err == nil {
		tb.Cleanup(p.Stop)
		err = p.launch(nil)
	}
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// LaunchPortal is StartPortalWithConfig for programs that are not tests (the soak): bin is a
// built cmd/portico, dir its working folder. Stop it with Stop.
func LaunchPortal(bin, dir, configYAML string, env ...string) (*Portal, error) {
	path := filepath.Join(dir, "portico.yaml")
	if err := os.WriteFile(path, []byte(configYAML), 0o644); err != nil {
		return nil, err
	}
	p, err := newPortal(bin, dir, []string{"--config", path}, env)
	if err != nil {
		return nil, err
	}
	return p, p.launch(nil)
}

func newPortal(bin, dir string, args, env []string) (*Portal, error) {
	port, err := ReservePort()
	if err != nil {
		return nil, err
	}
	p := &Portal{bin: bin, addr: fmt.Sprintf("127.0.0.1:%d", port), dir: dir, args: args, env: env}
	p.URL = "http://" + p.addr
	return p, nil
}

// Exited is closed when the current process has exited (it may kill itself, say at a test's
// crash point).
func (p *Portal) Exited() <-chan struct{} { return p.done }

// PID is the current process's.
func (p *Portal) PID() int { return p.cmd.Process.Pid }

// Signal sends sig to the current process (SIGTERM: a graceful shutdown).
func (p *Portal) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// Kill ends the process with SIGKILL, as a crash or an OOM kill would, and waits for it.
func (p *Portal) Kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// Stop ends the current process as a service manager would: SIGTERM, SIGKILL after 10 s.
func (p *Portal) Stop() {
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// Restart starts the portal again after it exited, on the same address and database, with
// extraEnv added to its environment, and waits until it is ready.
func (p *Portal) Restart(tb testing.TB, extraEnv ...string) {
	tb.Helper()
	if err := p.Relaunch(extraEnv...); err != nil {
		tb.Fatal(err)
	}
}

// Relaunch is Restart for programs.
func (p *Portal) Relaunch(extraEnv ...string) error {
	select {
	case <-p.done:
	default:
		return fmt.Errorf("restart: the portal is still running (kill it first)")
	}
	return p.launch(extraEnv)
}

// launch starts one process of the portal and waits until it is ready.
func (p *Portal) launch(extraEnv []string) error {
	p.runs++
	p.Log = filepath.Join(p.dir, fmt.Sprintf("portico-%d.log", p.runs))
	logf, err := os.Create(p.Log)
	if err != nil {
		return err
	}
	cmd := exec.Command(p.bin, append([]string{"serve", "--addr", p.addr}, p.args...)...)
	cmd.Dir = p.dir
	cmd.Env = append(os.Environ(), "PORTICO_DATABASE_DSN="+filepath.Join(p.dir, "portico.db"), "PORTICO_LOG_FORMAT=text", "PORTICO_BASE_URL=http://"+p.addr)
	cmd.Env = append(append(cmd.Env, p.env...), extraEnv...)
	cmd.Stdout, cmd.Stderr = logf, logf
	// The portal is handed its bound socket (LISTEN_FDS), so nothing can take the port first.
	ln, err := devstack.Listen("portal", p.addr)
	if err != nil {
		logf.Close()
		return err
	}
	sock, err := ln.File()
	ln.Close()
	if err != nil {
		logf.Close()
		return err
	}
	cmd.ExtraFiles = []*os.File{sock}
	cmd.Env = append(cmd.Env, "LISTEN_FDS=1")
	err = cmd.Start()
	sock.Close()
	if err != nil {
		logf.Close()
		return err
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(done) }()
	p.cmd, p.done = cmd, done
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		select {
		case <-done:
			return fmt.Errorf("portal exited at start:\n%s", tail(p.Log, 30))
		case <-ctx.Done():
			return fmt.Errorf("portal not ready in 30 s:\n%s", tail(p.Log, 30))
		case <-time.After(100 * time.Millisecond):
		}
		if res, err := http.Get(p.URL + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
	}
}
