// Package devstack runs Portico's local stack of real components — Kubernetes control planes
// (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok) and, around them, the
// observability backends and the OIDC provider — for `make dev` and for tests. Binaries come
// from deploy/local/build.sh's cache; nothing here builds or downloads.
package devstack

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Binaries are the paths of the stack's programs.
type Binaries struct {
	Etcd, APIServer, ControllerManager, Scheduler, Kwok, Jaeger, OIDC, Demo string
	// Kubectl is built with the control plane's version, for people and tests to drive the
	// stack's clusters.
	Kubectl string
	// Prometheus and Alertmanager are Debian's packages.
	Prometheus, Alertmanager string
	// CRDs is the folder of the service mesh's published CRDs (build.sh crds): istio.yaml,
	// gateway-api-httproutes.yaml, gateway-api-gateways.yaml.
	CRDs     string
	Versions map[string]string
}

// CacheDir is where build.sh keeps binaries: $PORTICO_CACHE or ~/.cache/portico.
func CacheDir() string {
	if d := os.Getenv("PORTICO_CACHE"); d != "" {
		return d
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "portico")
}

// LocateBinaries finds the pinned versions (deploy/local/versions.env under root) in the
// cache, or says which build to run.
func LocateBinaries(root string) (*Binaries, error) {
	versions, err := readVersions(filepath.Join(root, "deploy", "local", "versions.env"))
	if err != nil {
		return nil, err
	}
	bin := func(name, version, file string) string {
		return filepath.Join(CacheDir(), "bin", name+"-"+version, file)
	}
	b := &Binaries{
		Etcd:              bin("etcd", versions["ETCD_VERSION"], "etcd"),
		APIServer:         bin("kubernetes", versions["KUBE_VERSION"], "kube-apiserver"),
		ControllerManager: bin("kubernetes", versions["KUBE_VERSION"], "kube-controller-manager"),
		Scheduler:         bin("kubernetes", versions["KUBE_VERSION"], "kube-scheduler"),
		Kwok:              bin("kwok", versions["KWOK_VERSION"], "kwok"),
		Kubectl:           bin("kubectl", versions["KUBE_VERSION"], "kubectl"),
		Jaeger:            bin("jaeger", versions["JAEGER_VERSION"], "jaeger"),
		CRDs:              filepath.Join(CacheDir(), "crds-"+versions["ISTIO_API_VERSION"]+"-"+versions["GATEWAY_API_VERSION"]),
		Versions:          versions,
	}
	// The OIDC provider is our own program: its cache key includes its source digest.
	if matches, _ := filepath.Glob(filepath.Join(CacheDir(), "bin", "oidc-"+versions["OIDC_VERSION"]+"-*", "oidc")); len(matches) > 0 {
		b.OIDC = newest(matches)
	}
	if matches, _ := filepath.Glob(filepath.Join(CacheDir(), "bin", "demo-src-*", "portico-demo")); len(matches) > 0 {
		b.Demo = newest(matches)
	}
	b.Prometheus, b.Alertmanager = "/usr/bin/prometheus", "/usr/bin/prometheus-alertmanager"
	return b, nil
}

// newest picks the most recently built of several cached builds of our own programs.
func newest(paths []string) string {
	best, bestT := "", int64(0)
	for _, p := range paths {
		if st, err := os.Stat(p); err == nil && st.ModTime().UnixNano() > bestT {
			best, bestT = p, st.ModTime().UnixNano()
		}
	}
	return best
}

// need checks that the binaries a caller is about to run exist.
func need(paths ...string) error {
	var missing, packages []string
	for _, p := range paths {
		if _, err := os.Stat(p); err == nil && p != "" {
			continue
		}
		switch p {
		case "/usr/bin/prometheus":
			packages = append(packages, "prometheus")
		case "/usr/bin/prometheus-alertmanager":
			packages = append(packages, "prometheus-alertmanager")
		default:
			missing = append(missing, p)
		}
	}
	var errs []string
	if len(packages) > 0 {
		errs = append(errs, "Debian packages missing: run apt-get install "+strings.Join(packages, " ")+" (or deploy/local/install-deps.sh)")
	}
	if len(missing) > 0 {
		errs = append(errs, "missing "+strings.Join(missing, ", ")+": run deploy/local/build.sh (the first build takes about 15 minutes, later runs reuse the cache)")
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

func readVersions(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read pinned versions: %w", err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			out[k] = v
		}
	}
	return out, sc.Err()
}
