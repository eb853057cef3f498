// Package testenv starts the real components tests run against, once per test binary, and
// stops them when the binary's tests are done. A component that cannot start fails the tests
// with its log tail; it is never skipped.
package testenv

import (
	"fmt"
	"net"
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

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// FreePorts returns n distinct TCP ports on 127.0.0.1 that were free a moment ago. All are
// held open until every one is chosen, so the kernel cannot hand out the same port twice.
func FreePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
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
