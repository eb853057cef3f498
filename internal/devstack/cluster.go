package devstack

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/portico-dev/portico/internal/devstack/kwok"
)

// ClusterSpec names a control plane and its ports (all on 127.0.0.1).
type ClusterSpec struct {
	Name          string
	Environment   string // e.g. production, staging: how Portico labels the cluster
	Nodes         int
	EtcdPort      int
	EtcdPeerPort  int
	APIPort       int
	ControllerMgr int // secure port of kube-controller-manager (health)
	SchedulerPort int
	// KwokPort is where kwok serves container logs for its nodes (0: no logs).
	KwokPort int
	// Controllers overrides kube-controller-manager's --controllers (benchmarks that create
	// objects directly turn off the controllers that would reconcile them).
	Controllers string
	// LeaseDuration is how long the scheduler's and the controller manager's leader Leases
	// last (0: DefaultLeaseDuration). They renew within two thirds of it, and a component
	// that cannot renew in time exits, as in real clusters: the local stack, sharing two cores
	// with the tests, gives them room.
	LeaseDuration time.Duration
}

// DefaultLeaseDuration is the local stack's leader Lease duration: four times Kubernetes'
// default, so a starved control plane on a busy machine does not lose its leaders.
const DefaultLeaseDuration = 60 * time.Second

// leaderElectionArgs are a component's leader-election flags for the spec's Lease duration.
func (s ClusterSpec) leaderElectionArgs() []string {
	d := s.LeaseDuration
	if d == 0 {
		d = DefaultLeaseDuration
	}
	retry := d / 12
	if retry < time.Second {
		retry = time.Second
	}
	return []string{"--leader-elect=true", "--leader-elect-lease-duration", d.String(), "--leader-elect-renew-deadline", (d * 2 / 3).String(),
		"--leader-elect-retry-period", retry.String()}
}

// Cluster is a running control plane with kwok nodes.
type Cluster struct {
	Spec ClusterSpec
	Dir  string
	// AdminKubeconfig authenticates as a cluster admin with a client certificate.
	AdminKubeconfig string
	// PortalKubeconfig is the portal's own identity: the portico-system/portico ServiceAccount.
	PortalKubeconfig string
	URL              string
	procs            []*process
	bins             *Binaries
	pki              *pki
	detach           bool
}

// Timing is how long a start-up step took, for the report.
type Timing struct {
	Step string
	Took time.Duration
}

// StartCluster starts etcd, the API server, the controller manager, the scheduler and kwok,
// then creates the nodes and the portal's identity. With detach, processes outlive the caller.
func StartCluster(ctx context.Context, bins *Binaries, dir string, spec ClusterSpec, detach bool, out io.Writer) (*Cluster, error) {
	if err := need(bins.Etcd, bins.APIServer, bins.ControllerManager, bins.Scheduler, bins.Kwok); err != nil {
		return nil, err
	}
	used := map[int]string{}
	for comp, port := range map[string]int{"etcd": spec.EtcdPort, "etcd peer": spec.EtcdPeerPort, "kube-apiserver": spec.APIPort,
		"kube-controller-manager": spec.ControllerMgr, "kube-scheduler": spec.SchedulerPort, "kwok": spec.KwokPort} {
		if port == 0 {
			continue
		}
		if other, dup := used[port]; dup {
			return nil, fmt.Errorf("%s: %s and %s were given the same port %d", spec.Name, comp, other, port)
		}
		used[port] = comp
		if err := checkPortFree(spec.Name+" "+comp, port); err != nil {
			return nil, err
		}
	}
	c := &Cluster{Spec: spec, Dir: dir, URL: fmt.Sprintf("https://127.0.0.1:%d", spec.APIPort), bins: bins, detach: detach}
	ok := false
	defer func() {
		if !ok {
			c.Stop()
		}
	}()
	step := func(name string, f func() error) error {
		t0 := time.Now()
		if err := f(); err != nil {
			return fmt.Errorf("%s: %s: %w", spec.Name, name, err)
		}
		fmt.Fprintf(out, "  %-8s %-26s %6.1fs\n", spec.Name, name, time.Since(t0).Seconds())
		return nil
	}
	p, err := openPKI(filepath.Join(dir, "pki"))
	if err != nil {
		return nil, err
	}
	c.pki = p
	if err := step("etcd", func() error { return c.startEtcd(ctx, bins, detach) }); err != nil {
		return nil, err
	}
	if err := step("kube-apiserver", func() error { return c.startAPIServer(ctx, bins, p, detach) }); err != nil {
		return nil, err
	}
	if err := step("controller-manager", func() error { return c.startControllerManager(ctx, bins, p, detach) }); err != nil {
		return nil, err
	}
	if err := step("scheduler", func() error { return c.startScheduler(ctx, bins, p, detach) }); err != nil {
		return nil, err
	}
	if err := step("kwok", func() error { return c.startKwok(ctx, bins, detach) }); err != nil {
		return nil, err
	}
	if err := step("nodes and identities", func() error { return c.bootstrap(ctx, p) }); err != nil {
		return nil, err
	}
	ok = true
	return c, nil
}

func (c *Cluster) run(name, bin string, args []string, detach bool) (*process, error) {
	p, err := startProcess(c.Dir, name, bin, args, nil, detach)
	if err != nil {
		return nil, err
	}
	c.procs = append(c.procs, p)
	return p, nil
}

func (c *Cluster) startEtcd(ctx context.Context, bins *Binaries, detach bool) error {
	client := fmt.Sprintf("http://127.0.0.1:%d", c.Spec.EtcdPort)
	peer := fmt.Sprintf("http://127.0.0.1:%d", c.Spec.EtcdPeerPort)
	p, err := c.run("etcd", bins.Etcd, []string{
		"--name", c.Spec.Name, "--data-dir", filepath.Join(c.Dir, "etcd"),
		"--listen-client-urls", client, "--advertise-client-urls", client,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
		"--initial-cluster", c.Spec.Name + "=" + peer, "--listen-metrics-urls", "",
		"--quota-backend-bytes", strconv.Itoa(2 << 30), "--unsafe-no-fsync", "--log-level", "warn",
	}, detach)
	if err != nil {
		return err
	}
	return p.waitHealthy(ctx, 20*time.Second, httpCheck(client+"/health", nil))
}

func (c *Cluster) startAPIServer(ctx context.Context, bins *Binaries, p *pki, detach bool) error {
	cert, key, err := p.issue("apiserver", "kube-apiserver", nil, true)
	if err != nil {
		return err
	}
	saKey, saPub, err := p.serviceAccountKey()
	if err != nil {
		return err
	}
	adminCert, adminKey, err := p.issue("admin", "portico-admin", []string{"system:masters"}, false)
	if err != nil {
		return err
	}
	proc, err := c.run("kube-apiserver", bins.APIServer, []string{
		"--etcd-servers", fmt.Sprintf("http://127.0.0.1:%d", c.Spec.EtcdPort),
		"--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1", "--secure-port", strconv.Itoa(c.Spec.APIPort),
		"--tls-cert-file", cert, "--tls-private-key-file", key, "--client-ca-file", p.path("ca.crt"),
		"--service-account-key-file", saPub, "--service-account-signing-key-file", saKey,
		"--service-account-issuer", "https://kubernetes.default.svc", "--service-account-max-token-expiration", "8760h",
		"--api-audiences", "https://kubernetes.default.svc",
		"--authorization-mode", "RBAC", "--service-cluster-ip-range", "10.96.0.0/16",
		"--allow-privileged", "--enable-priority-and-fairness=false", "--profiling=false",
		// Everything binds 127.0.0.1, which the endpoint reconciler refuses to advertise.
		"--endpoint-reconciler-type", "none",
		// Logs are fetched from kwok, which answers for every node on 127.0.0.1.
		"--kubelet-preferred-address-types", "InternalIP",
		"--kubelet-client-certificate", adminCert, "--kubelet-client-key", adminKey,
		"--cert-dir", filepath.Join(c.Dir, "apiserver-certs"), "--v", "1",
	}, detach)
	if err != nil {
		return err
	}
	if err := proc.waitHealthy(ctx, 60*time.Second, httpCheck(c.URL+"/readyz", p)); err != nil {
		return err
	}
	return c.writeAdminKubeconfig(p)
}

// componentKubeconfig writes a kubeconfig for a control-plane component's built-in identity.
func (c *Cluster) componentKubeconfig(p *pki, name, user string, orgs []string) (string, error) {
	cert, key, err := p.issue(name, user, orgs, false)
	if err != nil {
		return "", err
	}
	path := filepath.Join(c.Dir, name+".kubeconfig")
	return path, writeKubeconfig(path, c.Spec.Name, c.URL, p.path("ca.crt"), cert, key, "")
}

func (c *Cluster) startControllerManager(ctx context.Context, bins *Binaries, p *pki, detach bool) error {
	kc, err := c.componentKubeconfig(p, "controller-manager", "system:kube-controller-manager", nil)
	if err != nil {
		return err
	}
	saKey, _, _ := p.serviceAccountKey()
	proc, err := c.run("kube-controller-manager", bins.ControllerManager, append([]string{
		"--kubeconfig", kc, "--authentication-kubeconfig", kc, "--authorization-kubeconfig", kc,
		"--bind-address", "127.0.0.1", "--secure-port", strconv.Itoa(c.Spec.ControllerMgr),
		"--service-account-private-key-file", saKey, "--root-ca-file", p.path("ca.crt"),
		"--use-service-account-credentials",
		// nodeipam needs a pod CIDR per node and kwok has none; no volumes here.
		"--controllers", c.controllers(),
		"--cluster-name", c.Spec.Name, "--v", "1",
	}, c.Spec.leaderElectionArgs()...), detach)
	if err != nil {
		return err
	}
	return proc.waitHealthy(ctx, 30*time.Second, httpCheck(fmt.Sprintf("https://127.0.0.1:%d/healthz", c.Spec.ControllerMgr), nil))
}

func (c *Cluster) startScheduler(ctx context.Context, bins *Binaries, p *pki, detach bool) error {
	kc, err := c.componentKubeconfig(p, "scheduler", "system:kube-scheduler", nil)
	if err != nil {
		return err
	}
	// Leader election is on, as in real clusters: the Leases the scheduler and the controller
	// manager renew are what the cluster page judges them by.
	proc, err := c.run("kube-scheduler", bins.Scheduler, append([]string{
		"--kubeconfig", kc, "--authentication-kubeconfig", kc, "--authorization-kubeconfig", kc,
		"--bind-address", "127.0.0.1", "--secure-port", strconv.Itoa(c.Spec.SchedulerPort),
		"--v", "1",
	}, c.Spec.leaderElectionArgs()...), detach)
	if err != nil {
		return err
	}
	return proc.waitHealthy(ctx, 30*time.Second, httpCheck(fmt.Sprintf("https://127.0.0.1:%d/healthz", c.Spec.SchedulerPort), nil))
}

func (c *Cluster) startKwok(ctx context.Context, bins *Binaries, detach bool) error {
	stages := filepath.Join(c.Dir, "kwok-stages.yaml")
	if err := os.WriteFile(stages, append(append(append([]byte{}, kwok.Stages...), "\n---\n"...), kwok.Faults...), 0o644); err != nil {
		return err
	}
	admin := filepath.Join(c.Dir, "admin.kubeconfig")
	args := []string{"--kubeconfig", admin, "--config", stages, "--manage-all-nodes=true",
		"--cidr", "10.0.0.0/16", "--node-lease-duration-seconds", "40"}
	if c.Spec.KwokPort > 0 {
		// kwok plays the kubelets' API for logs: the API server reaches every node at
		// 127.0.0.1:<KwokPort>, and kwok answers with the demo log file.
		if err := c.writeLogsConfig(stages); err != nil {
			return err
		}
		cert, key, err := c.pki.issue("kwok-serving", "kwok", nil, true)
		if err != nil {
			return err
		}
		port := strconv.Itoa(c.Spec.KwokPort)
		args = append(args, "--node-ip", "127.0.0.1", "--node-port", port, "--server-address", "127.0.0.1:"+port,
			"--tls-cert-file", cert, "--tls-private-key-file", key)
	} else {
		args = append(args, "--node-ip", "10.0.0.1", "--server-address", "")
	}
	proc, err := c.run("kwok", bins.Kwok, args, detach)
	if err != nil {
		return err
	}
	// kwok has no health endpoint of its own here: it is healthy once it keeps running.
	settle := time.Now().Add(time.Second)
	return proc.waitHealthy(ctx, 5*time.Second, func(context.Context) error {
		if time.Now().Before(settle) {
			return fmt.Errorf("starting")
		}
		return nil
	})
}

// Stop ends the cluster's processes, newest first.
func (c *Cluster) Stop() {
	for i := len(c.procs) - 1; i >= 0; i-- {
		c.procs[i].stop(10 * time.Second)
	}
	c.procs = nil
}

// Processes reports the cluster's components with their pid and memory.
func (c *Cluster) Processes() []ProcessInfo {
	var out []ProcessInfo
	for _, p := range c.procs {
		out = append(out, ProcessInfo{Name: c.Spec.Name + "/" + p.name, PID: p.cmd.Process.Pid, RSSMB: rssMB(p.cmd.Process.Pid), Log: p.logPath})
	}
	return out
}

// ProcessInfo describes a running component.
type ProcessInfo struct {
	Name  string
	PID   int
	RSSMB float64
	Log   string
}

// httpCheck GETs url and wants 200. With a pki it presents the admin certificate and trusts
// the cluster CA; without, it skips verification (components' self-signed health ports).
func httpCheck(url string, p *pki) func(context.Context) error {
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // local health probe only
	if p != nil {
		if cert, key, err := p.issue("admin", "portico-admin", []string{"system:masters"}, false); err == nil {
			if pair, err := tls.LoadX509KeyPair(cert, key); err == nil {
				tr.TLSClientConfig.Certificates = []tls.Certificate{pair}
			}
		}
	}
	client := &http.Client{Transport: tr}
	return func(ctx context.Context) error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		res, err := client.Do(req)
		if err != nil {
			return err
		}
		defer res.Body.Close()
		if res.StatusCode != http.StatusOK {
			b, _ := io.ReadAll(io.LimitReader(res.Body, 300))
			return fmt.Errorf("%s: %d %s", url, res.StatusCode, strings.TrimSpace(string(b)))
		}
		return nil
	}
}

// StopAPIServer stops the cluster's API server (the rest keeps running), so tests can see
// how clients behave while a cluster is unreachable.
func (c *Cluster) StopAPIServer() { c.stopComponent("kube-apiserver") }

func (c *Cluster) stopComponent(name string) {
	for i, p := range c.procs {
		if p.name == name {
			p.stop(10 * time.Second)
			c.procs = append(c.procs[:i], c.procs[i+1:]...)
			return
		}
	}
}

// Signal sends sig to one of the cluster's processes by name ("kube-apiserver"): SIGSTOP
// hangs it with its port open, so clients see timeouts rather than refused connections.
func (c *Cluster) Signal(component string, sig syscall.Signal) error {
	for _, p := range c.procs {
		if p.name == component {
			return syscall.Kill(p.cmd.Process.Pid, sig)
		}
	}
	return fmt.Errorf("cluster %s has no running %s", c.Spec.Name, component)
}

// StopScheduler stops the cluster's scheduler (the rest keeps running): its Lease goes stale
// and nothing new is scheduled, as when a real scheduler dies.
func (c *Cluster) StopScheduler() { c.stopComponent("kube-scheduler") }

// StartScheduler starts the scheduler again after StopScheduler.
func (c *Cluster) StartScheduler(ctx context.Context) error {
	return c.startScheduler(ctx, c.bins, c.pki, c.detach)
}

// StartAPIServer starts the API server again after StopAPIServer.
func (c *Cluster) StartAPIServer(ctx context.Context) error {
	return c.startAPIServer(ctx, c.bins, c.pki, c.detach)
}

// controllers is the controller manager's --controllers value: all but nodeipam (kwok nodes
// have no pod CIDR) and the volume binder (no volumes here), unless the spec says otherwise.
func (c *Cluster) controllers() string {
	if c.Spec.Controllers != "" {
		return c.Spec.Controllers
	}
	return "*,-nodeipam,-persistentvolume-binder"
}

// demoLog is what every simulated container prints: structured lines as the services log, in
// the container runtime's log format (time, stream, tag, line), which kwok serves.
const demoLog = `2026-11-23T09:00:00.000000000Z stdout F {"level":"INFO","msg":"server listening","addr":":8080"}
2026-11-23T09:00:01.000000000Z stdout F {"level":"INFO","msg":"connected to dependencies","took_ms":84}
2026-11-23T09:00:05.000000000Z stdout F {"level":"INFO","msg":"request","method":"GET","route":"/healthz","status":200,"duration_ms":0.4}
2026-11-23T09:00:07.000000000Z stderr F {"level":"WARN","msg":"slow upstream","upstream":"pricing","duration_ms":412}
2026-11-23T09:00:09.000000000Z stdout F {"level":"INFO","msg":"request","method":"POST","route":"/v1/payments","status":201,"duration_ms":182.7}
2026-11-23T09:00:12.000000000Z stderr F {"level":"ERROR","msg":"request failed","route":"/v1/payments","status":502,"err":"upstream connect error <timeout>"}
`

// writeLogsConfig appends a ClusterLogs document serving the demo log for every container.
func (c *Cluster) writeLogsConfig(stages string) error {
	logFile := filepath.Join(c.Dir, "container.log")
	if err := os.WriteFile(logFile, []byte(demoLog), 0o644); err != nil {
		return err
	}
	f, err := os.OpenFile(stages, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = fmt.Fprintf(f, "\n---\napiVersion: kwok.x-k8s.io/v1alpha1\nkind: ClusterLogs\nmetadata: {name: demo-logs}\nspec:\n  logs:\n  - logsFile: %s\n    follow: true\n", logFile)
	return err
}
