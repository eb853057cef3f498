// Package testenv starts the real components tests run against, once per test binary, and
// stops them when the binary's tests are done. A component that cannot start fails the tests
// with its log tail; it is never skipped.
package testenv

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/portico-dev/portico/internal/devstack"
)

var (
	mu       sync.Mutex
	stoppers []func()
)

// Run runs a package's tests and then stops every component they started. Use it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }
func Run(m *testing.M) int {
	code := m.Run()
	StopAll()
	return code
}

// StopAll stops every component started so far (tests call it through Run; programs such as
// the benchmark call it themselves).
func StopAll() {
	mu.Lock()
	defer mu.Unlock()
	for i := len(stoppers) - 1; i >= 0; i-- {
		stoppers[i]()
	}
	stoppers = nil
}

// ClusterAndOIDC starts the control plane and the OIDC provider outside tests, for the
// benchmark; StopAll stops them.
func ClusterAndOIDC() (*devstack.Cluster, *Provider, error) {
	c, err := startCluster()
	if err != nil {
		return nil, nil, fmt.Errorf("control plane: %w", err)
	}
	p, err := startOIDC()
	if err != nil {
		return nil, nil, fmt.Errorf("OIDC provider: %w", err)
	}
	return c, p, nil
}

func onStop(f func()) {
	mu.Lock()
	stoppers = append(stoppers, f)
	mu.Unlock()
}

// ReservePort returns a TCP port on 127.0.0.1 that this test process holds for its lifetime:
// no other test package can get it and the kernel does not hand it out as an ephemeral port
// (see devstack.ReservePorts), so a component started on it cannot lose it to a neighbour.
func ReservePort() (int, error) { return devstack.ReservePort() }

// ReservePorts is ReservePort for n distinct ports.
func ReservePorts(n int) ([]int, error) { return devstack.ReservePorts(n) }

// startAttempts is how often a component is started with fresh ports when a port it was given
// turns out to be taken anyway (by a program outside the reservation, such as a developer's
// own server).
const startAttempts = 3

// retryOnPortClash runs start until it succeeds, fails for another reason than a port clash,
// or has failed startAttempts times; each attempt chooses fresh ports.
func retryOnPortClash[T any](start func() (T, error)) (T, error) {
	var v T
	var err error
	for range startAttempts {
		if v, err = start(); err == nil || !devstack.IsPortInUse(err) {
			return v, err
		}
	}
	return v, fmt.Errorf("after %d attempts with fresh ports: %w", startAttempts, err)
}

// tail returns the last n lines of a log file, for failure messages.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// stackWorkspace finds the stack's cached binaries and makes a state folder for components.
func stackWorkspace(prefix string) (*devstack.Binaries, string, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, "", err
	}
	bins, err := devstack.LocateBinaries(root)
	if err != nil {
		return nil, "", err
	}
	dir, err := os.MkdirTemp("", prefix)
	return bins, dir, err
}
