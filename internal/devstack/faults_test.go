package devstack_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/portico-dev/portico/internal/devstack"
	"github.com/portico-dev/portico/internal/testenv"
)

// TestBadStarts covers what goes wrong when starting the stack: each is reported with the fix.
func TestBadStarts(t *testing.T) {
	root, _ := testenv.RepoRoot()
	bins, err := devstack.LocateBinaries(root)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("port taken", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		taken := l.Addr().(*net.TCPAddr).Port
		free := func() int { p, _ := testenv.ReservePort(); return p }
		spec := devstack.ClusterSpec{Name: "x", Nodes: 1, EtcdPort: free(), EtcdPeerPort: free(), APIPort: taken, ControllerMgr: free(), SchedulerPort: free()}
		_, err = devstack.StartCluster(context.Background(), bins, t.TempDir(), spec, false, io.Discard)
		want := fmt.Sprintf("x kube-apiserver could not bind 127.0.0.1:%d: it is taken by pid %d (", taken, os.Getpid())
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "make dev-down") {
			t.Errorf("err = %v, want %q and the fix", err, want)
		}
		if !devstack.IsPortInUse(err) {
			t.Errorf("err = %v is not a PortInUseError", err)
		}
	})
	t.Run("port taken between the check and the start", func(t *testing.T) {
		// etcd passes the check, then finds its client port taken: the error says by whom.
		free := func() int { p, _ := testenv.ReservePort(); return p }
		port := free()
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		dir := t.TempDir()
		client := fmt.Sprintf("http://127.0.0.1:%d", port)
		_, err = devstack.StartProcess(context.Background(), dir, "etcd", bins.Etcd, []string{"--data-dir", filepath.Join(dir, "etcd"),
			"--listen-client-urls", client, "--advertise-client-urls", client, "--listen-peer-urls", fmt.Sprintf("http://127.0.0.1:%d", free())},
			nil, "", client+"/health", 20*time.Second)
		want := fmt.Sprintf("etcd could not bind 127.0.0.1:%d: it is taken by pid %d (", port, os.Getpid())
		if err == nil || !strings.Contains(err.Error(), want) || !devstack.IsPortInUse(err) {
			t.Errorf("err = %v, want a PortInUseError %q", err, want)
		}
	})
	t.Run("component exits at start", func(t *testing.T) {
		_, err := devstack.StartProcess(context.Background(), t.TempDir(), "broken", "/bin/sh",
			[]string{"-c", "echo 'listen tcp: bind: permission denied' >&2; exit 3"}, nil, "", "http://127.0.0.1:1/healthz", 10*time.Second)
		if err == nil || !strings.Contains(err.Error(), "exited at start") || !strings.Contains(err.Error(), "permission denied") {
			t.Errorf("err = %v, want the exit and the log tail", err)
		}
	})
	t.Run("missing binary", func(t *testing.T) {
		b := *bins
		b.Etcd = filepath.Join(t.TempDir(), "etcd")
		_, err := devstack.StartCluster(context.Background(), &b, t.TempDir(), devstack.ClusterSpec{Name: "x"}, false, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "run deploy/local/build.sh") {
			t.Errorf("err = %v, want the build hint", err)
		}
	})
}

// TestStopAllAfterCrash: a stack whose starter died leaves pid files; StopAll stops what still
// runs (including nested cluster folders) and forgets the dead.
func TestStopAllAfterCrash(t *testing.T) {
	dir := t.TempDir()
	sleeper := exec.Command("sleep", "60")
	sleeper.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { sleeper.Wait(); close(done) }()
	os.MkdirAll(filepath.Join(dir, "production", "run"), 0o755)
	os.MkdirAll(filepath.Join(dir, "run"), 0o755)
	os.WriteFile(filepath.Join(dir, "production", "run", "etcd.pid"), []byte(fmt.Sprint(sleeper.Process.Pid)), 0o644)
	os.WriteFile(filepath.Join(dir, "run", "oidc.pid"), []byte("999999"), 0o644) // long dead
	stopped, err := devstack.StopAll(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(stopped) != 1 || stopped[0] != "production/etcd" {
		t.Errorf("stopped = %v, want [production/etcd]", stopped)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the process still runs")
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*", "*.pid")); len(left) != 0 {
		t.Errorf("pid files left: %v", left)
	}
}

// TestStopAllLeavesAReusedPID: a pid file older than the process now holding its PID (the
// kernel gave the number to another program since) is forgotten, and that program is not
// signalled.
func TestStopAllLeavesAReusedPID(t *testing.T) {
	dir := t.TempDir()
	other := exec.Command("sleep", "60")
	other.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Process.Kill(); other.Wait() })
	pidFile := filepath.Join(dir, "run", "prometheus.pid")
	os.MkdirAll(filepath.Dir(pidFile), 0o755)
	os.WriteFile(pidFile, []byte(fmt.Sprint(other.Process.Pid)), 0o644)
	written := time.Now().Add(-time.Hour) // the stack that wrote it ran an hour ago
	if err := os.Chtimes(pidFile, written, written); err != nil {
		t.Fatal(err)
	}
	stopped, err := devstack.StopAll(dir)
	if err != nil || len(stopped) != 0 {
		t.Errorf("stopped = %v, %v; want nothing", stopped, err)
	}
	if err := other.Process.Signal(syscall.Signal(0)); err != nil {
		t.Errorf("the program holding the reused PID was signalled: %v", err)
	}
	if _, err := os.Stat(pidFile); !os.IsNotExist(err) {
		t.Errorf("the stale pid file stays: %v", err)
	}
}
