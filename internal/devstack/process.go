package devstack

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// process is a component running in its own process group, with its log and pid file in the
// stack's state folder so a later `portico-dev down` can stop it.
type process struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	pidPath string
	exited  chan struct{}
}

// startProcess runs bin with args. Its output goes to logs/<name>.log; detached processes
// (the developer stack) outlive the command that started them.
func startProcess(dir, name, bin string, args, env []string, detach bool) (*process, error) {
	return startProcessWith(dir, name, bin, args, env, detach, nil)
}

// startProcessWith is startProcess handing the program a bound listener as file descriptor 3
// with LISTEN_FDS=1 (systemd's socket-activation convention), so nothing can take its port
// between choosing it and the program serving on it.
func startProcessWith(dir, name, bin string, args, env []string, detach bool, ln *net.TCPListener) (*process, error) {
	logs, run := filepath.Join(dir, "logs"), filepath.Join(dir, "run")
	for _, d := range []string{logs, run} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	p := &process{name: name, logPath: filepath.Join(logs, name+".log"), pidPath: filepath.Join(run, name+".pid"), exited: make(chan struct{})}
	logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	p.cmd.Dir = dir
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: !detach, Setsid: detach}
	if ln != nil {
		f, err := ln.File() // a duplicate: the child gets its own descriptor of the socket
		if err != nil {
			return nil, fmt.Errorf("start %s: hand over its listener: %w", name, err)
		}
		defer f.Close()
		p.cmd.ExtraFiles = []*os.File{f}
		p.cmd.Env = append(p.cmd.Env, "LISTEN_FDS=1")
	}
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s (%s): %w", name, bin, err)
	}
	if err := os.WriteFile(p.pidPath, []byte(strconv.Itoa(p.cmd.Process.Pid)), 0o644); err != nil {
		return nil, err
	}
	go func() { _ = p.cmd.Wait(); close(p.exited) }()
	return p, nil
}

// waitHealthy polls check until it succeeds, the process exits or the timeout passes; failures
// carry the component's log tail, which usually says why.
func (p *process) waitHealthy(ctx context.Context, timeout time.Duration, check func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		cctx, ccancel := context.WithTimeout(ctx, 2*time.Second)
		last = check(cctx)
		ccancel()
		if last == nil {
			return nil
		}
		select {
		case <-p.exited:
			if clash := portClash(p.name, p.logPath); clash != nil {
				return fmt.Errorf("%w (%s exited at start):\n%s", clash, p.name, logTail(p.logPath, 10))
			}
			return fmt.Errorf("%s exited at start (%s):\n%s", p.name, p.cmd.ProcessState, logTail(p.logPath, 25))
		case <-ctx.Done():
			return fmt.Errorf("%s not healthy after %s (%v):\n%s", p.name, timeout, last, logTail(p.logPath, 25))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// stop ends the process group: SIGTERM, then SIGKILL after the grace period.
func (p *process) stop(grace time.Duration) {
	stopPID(p.cmd.Process.Pid, grace, p.exited)
	os.Remove(p.pidPath)
}

func stopPID(pid int, grace time.Duration, exited <-chan struct{}) {
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	_ = syscall.Kill(pid, syscall.SIGTERM)
	deadline := time.After(grace)
	for {
		select {
		case <-exited:
			return
		case <-deadline:
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			_ = syscall.Kill(pid, syscall.SIGKILL)
			return
		case <-time.After(50 * time.Millisecond):
			if exited == nil && !alive(pid) {
				return
			}
		}
	}
}

// StopAll stops every process recorded under dir/run and dir/<cluster>/run (a stack started
// earlier, perhaps by a command that has since exited or crashed) and returns what it stopped.
func StopAll(dir string) ([]string, error) {
	pids, _ := filepath.Glob(filepath.Join(dir, "run", "*.pid"))
	nested, _ := filepath.Glob(filepath.Join(dir, "*", "run", "*.pid")) // each cluster's components
	pids = append(nested, pids...)
	var stopped []string
	for _, f := range pids {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err == nil && alive(pid) && startedBy(pid, f) {
			stopPID(pid, 10*time.Second, nil)
			rel, _ := filepath.Rel(dir, f)
			rel = strings.TrimPrefix(strings.Replace(rel, "/run/", "/", 1), "run/")
			stopped = append(stopped, strings.TrimSuffix(rel, ".pid"))
		}
		os.Remove(f)
	}
	return stopped, nil
}

// checkPortFree fails with the fix when another program listens on the port.
func checkPortFree(component string, port int) error {
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return fmt.Errorf("%w: Stop it, or run `make dev-down` if it is an earlier stack", &PortInUseError{Component: component, Port: port, Holder: PortHolder(port)})
	}
	return l.Close()
}

func logTail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log)"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "    " + strings.Join(lines, "\n    ")
}

// rssMB is a process's resident memory in MB, from /proc.
func rssMB(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}

// alive reports whether pid runs; a zombie (dead, not yet reaped by an init that may never
// reap it) counts as dead.
// startedBy reports whether pid is still the process whose start wrote pidFile: it started at
// most a minute before the file was written, and not after. A PID the kernel has given to
// another process since (the stack crashed, the machine ran on) fails, so it is not signalled.
func startedBy(pid int, pidFile string) bool {
	fi, err := os.Stat(pidFile)
	if err != nil {
		return false
	}
	started, ok := processStart(pid)
	if !ok {
		return false
	}
	written := fi.ModTime()
	return !started.After(written.Add(time.Second)) && written.Sub(started) < time.Minute
}

// processStart is when pid started, from /proc: its start in clock ticks after boot, and the
// boot time.
func processStart(pid int) (time.Time, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return time.Time{}, false
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return time.Time{}, false
	}
	f := strings.Fields(string(b[i+1:])) // from field 3 (state) on
	if len(f) < 20 {
		return time.Time{}, false
	}
	ticks, err := strconv.ParseInt(f[19], 10, 64) // field 22: starttime
	if err != nil {
		return time.Time{}, false
	}
	st, err := os.ReadFile("/proc/stat")
	if err != nil {
		return time.Time{}, false
	}
	for _, line := range strings.Split(string(st), "\n") {
		if v, ok := strings.CutPrefix(line, "btime "); ok {
			boot, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return time.Time{}, false
			}
			const userHZ = 100 // USER_HZ, the unit of /proc's times on every Linux architecture Go runs on
			return time.Unix(boot, 0).Add(time.Duration(ticks) * time.Second / userHZ), true
		}
	}
	return time.Time{}, false
}

func alive(pid int) bool {
	if pid <= 1 || syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// Format: pid (comm) state ...; comm may hold spaces, so read after the last ')'.
	if i := strings.LastIndexByte(string(b), ')'); i >= 0 && i+2 < len(b) {
		return b[i+2] != 'Z'
	}
	return true
}
