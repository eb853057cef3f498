package devstack

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// Component is one running part of the developer stack, as recorded in the state folder.
type Component struct {
	Name   string `json:"name"`
	PID    int    `json:"pid"`
	Addr   string `json:"addr"`
	Health string `json:"health"` // URL answering 200 when healthy
	Log    string `json:"log"`
	// Ready is how long the component took from the start of `up` to healthy.
	Ready time.Duration `json:"ready"`
	// Kubeconfigs of a cluster: admin and the portal's own.
	AdminKubeconfig  string `json:"adminKubeconfig,omitempty"`
	PortalKubeconfig string `json:"portalKubeconfig,omitempty"`
	// How it was started, so a fault-injection run can start it again (Restart). Its
	// environment is not kept: it may hold secrets.
	Bin     string   `json:"bin,omitempty"`
	Args    []string `json:"args,omitempty"`
	Serving bool     `json:"serving,omitempty"` // handed its bound listener (StartServing)
}

// State is what `portico-dev up` started, saved as state.json in the state folder.
type State struct {
	Started    time.Time   `json:"started"`
	Components []Component `json:"components"`
}

func statePath(dir string) string { return filepath.Join(dir, "state.json") }

// SaveState records the running stack.
func SaveState(dir string, s *State) error {
	b, _ := json.MarshalIndent(s, "", "  ")
	return os.WriteFile(statePath(dir), b, 0o644)
}

// LoadState reads the recorded stack; a missing file is an empty stack.
func LoadState(dir string) (*State, error) {
	b, err := os.ReadFile(statePath(dir))
	if os.IsNotExist(err) {
		return &State{}, nil
	}
	if err != nil {
		return nil, err
	}
	var s State
	return &s, json.Unmarshal(b, &s)
}

// Alive reports whether the component's process still runs.
func (c Component) Alive() bool { return alive(c.PID) }

// Check probes the component's health URL.
func (c Component) Check(ctx context.Context) error {
	if !c.Alive() {
		return fmt.Errorf("not running")
	}
	if c.Health == "" {
		return nil
	}
	return httpCheck(c.Health, nil)(ctx)
}

// RSSMB is the component's resident memory.
func (c Component) RSSMB() float64 { return rssMB(c.PID) }

// PrintStatus writes one line per component: name, address, health, memory.
func PrintStatus(ctx context.Context, w io.Writer, s *State) (healthy bool) {
	healthy = true
	fmt.Fprintf(w, "%-34s %-22s %-10s %8s  %s\n", "COMPONENT", "ADDRESS", "HEALTH", "MEMORY", "LOG")
	var total float64
	for _, c := range s.Components {
		health := "ok"
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		if err := c.Check(cctx); err != nil {
			health, healthy = "DOWN", false
		}
		cancel()
		mem := c.RSSMB()
		total += mem
		fmt.Fprintf(w, "%-34s %-22s %-10s %6.0fMB  %s\n", c.Name, c.Addr, health, mem, c.Log)
	}
	fmt.Fprintf(w, "%-34s %-22s %-10s %6.0fMB\n", "total", "", "", total)
	return healthy
}

// componentsOf turns a started cluster into state entries.
func componentsOf(c *Cluster, since time.Time) []Component {
	var out []Component
	health := map[string]string{
		"etcd":                    fmt.Sprintf("http://127.0.0.1:%d/health", c.Spec.EtcdPort),
		"kube-apiserver":          c.URL + "/livez",
		"kube-controller-manager": fmt.Sprintf("https://127.0.0.1:%d/healthz", c.Spec.ControllerMgr),
		"kube-scheduler":          fmt.Sprintf("https://127.0.0.1:%d/healthz", c.Spec.SchedulerPort),
	}
	addr := map[string]int{"etcd": c.Spec.EtcdPort, "kube-apiserver": c.Spec.APIPort,
		"kube-controller-manager": c.Spec.ControllerMgr, "kube-scheduler": c.Spec.SchedulerPort}
	for _, p := range c.procs {
		comp := Component{Name: c.Spec.Name + "/" + p.name, PID: p.cmd.Process.Pid, Health: health[p.name], Log: p.logPath, Ready: time.Since(since)}
		if port := addr[p.name]; port > 0 {
			comp.Addr = "127.0.0.1:" + strconv.Itoa(port)
		}
		if p.name == "kube-apiserver" {
			comp.AdminKubeconfig, comp.PortalKubeconfig = c.AdminKubeconfig, c.PortalKubeconfig
		}
		out = append(out, comp)
	}
	return out
}

// Components lists the cluster's processes as state entries.
func (c *Cluster) Components(since time.Time) []Component { return componentsOf(c, since) }

// StartProcess runs one more detached component of the developer stack and waits for health.
func StartProcess(ctx context.Context, dir, name, bin string, args, env []string, addr, health string, timeout time.Duration) (Component, error) {
	return startComponent(ctx, dir, name, bin, args, env, nil, addr, health, timeout)
}

// StartServing is StartProcess for a program that accepts its listener as file descriptor 3
// (LISTEN_FDS=1): the portal, the OIDC provider and the demo traffic. The socket is bound
// before the program starts, so no other program can take the port in between; the caller's
// copy is closed once the program has its own.
func StartServing(ctx context.Context, dir, name, bin string, args, env []string, ln *net.TCPListener, health string, timeout time.Duration) (Component, error) {
	defer ln.Close()
	return startComponent(ctx, dir, name, bin, args, env, ln, ln.Addr().String(), health, timeout)
}

// Listen binds addr for StartServing, naming what holds the port when it is taken.
func Listen(component, addr string) (*net.TCPListener, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		_, p, _ := net.SplitHostPort(addr)
		port, _ := strconv.Atoi(p)
		return nil, fmt.Errorf("%w: Stop it, or run `make dev-down` if it is an earlier stack", &PortInUseError{Component: component, Port: port, Holder: PortHolder(port)})
	}
	return l.(*net.TCPListener), nil
}

func startComponent(ctx context.Context, dir, name, bin string, args, env []string, ln *net.TCPListener, addr, health string, timeout time.Duration) (Component, error) {
	p, err := startProcessWith(dir, name, bin, args, env, true, ln)
	if err != nil {
		return Component{}, err
	}
	if err := p.waitHealthy(ctx, timeout, httpCheck(health, nil)); err != nil {
		p.stop(5 * time.Second)
		return Component{}, err
	}
	return Component{Name: name, PID: p.cmd.Process.Pid, Addr: addr, Health: health, Log: p.logPath, Bin: bin, Args: args, Serving: ln != nil}, nil
}

// Signal sends sig to the component's process (SIGSTOP hangs it, SIGCONT resumes it).
func (c Component) Signal(sig syscall.Signal) error {
	if !c.Alive() {
		return fmt.Errorf("%s (pid %d) is not running", c.Name, c.PID)
	}
	return syscall.Kill(c.PID, sig)
}

// Kill ends the component with SIGKILL, as a crash or an OOM kill would, and waits until it
// is gone.
func (c Component) Kill(timeout time.Duration) error {
	_ = syscall.Kill(c.PID, syscall.SIGCONT) // a hung process dies as well
	if err := c.Signal(syscall.SIGKILL); err != nil {
		return err
	}
	for deadline := time.Now().Add(timeout); c.Alive(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			return fmt.Errorf("%s (pid %d) still runs %s after SIGKILL", c.Name, c.PID, timeout)
		}
	}
	return nil
}

// Restart starts a component again after it stopped, with the program, arguments and address
// it had (not its environment), and waits until it is healthy.
func Restart(ctx context.Context, dir string, c Component, timeout time.Duration) (Component, error) {
	if c.Alive() {
		return c, fmt.Errorf("restart %s: it still runs (pid %d)", c.Name, c.PID)
	}
	if c.Bin == "" {
		return c, fmt.Errorf("restart %s: how it was started is not recorded", c.Name)
	}
	var ln *net.TCPListener
	if c.Serving {
		var err error
		if ln, err = Listen(c.Name, c.Addr); err != nil {
			return c, err
		}
		defer ln.Close()
	}
	n, err := startComponent(ctx, dir, c.Name, c.Bin, c.Args, nil, ln, c.Addr, c.Health, timeout)
	if err != nil {
		return c, err
	}
	n.Ready, n.AdminKubeconfig, n.PortalKubeconfig = c.Ready, c.AdminKubeconfig, c.PortalKubeconfig
	return n, nil
}

// RunningCluster describes a cluster of a stack started earlier by `portico-dev up` in dir,
// for tests that reuse it. Stopping it is left to `portico-dev down`.
func RunningCluster(dir, name string) (*Cluster, error) {
	st, err := LoadState(dir)
	if err != nil {
		return nil, err
	}
	for _, c := range st.Components {
		if c.Name == name+"/kube-apiserver" && c.Alive() {
			return &Cluster{Spec: ClusterSpec{Name: name, Environment: name}, Dir: filepath.Join(dir, name),
				AdminKubeconfig: c.AdminKubeconfig, PortalKubeconfig: c.PortalKubeconfig, URL: "https://" + c.Addr}, nil
		}
	}
	return nil, fmt.Errorf("no running cluster %q in %s: run make dev first", name, dir)
}
