// Command portico is the Portico developer portal: `portico serve` runs the portal,
// `portico catalog lint` checks catalog files in CI, `portico version` prints the version.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	var ee exitError
	switch {
	case errors.As(err, &ee):
		os.Exit(int(ee))
	case err != nil:
		fmt.Fprintln(os.Stderr, "portico:", err)
		os.Exit(1)
	}
}

// exitError ends the program with a status and no further message (it was already printed).
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

const usage = `Usage: portico <command> [flags]

Commands:
  serve                 run the portal (see --help for flags)
  catalog lint PATH...  check catalog files; exit 1 on errors
  scorecard check -f PATH...
                        grade a service's manifests with the production-readiness checks
  pipeline report       send a CI event (Jenkins, Tekton, Argo, scripts) to the portal
  version               print the version

Run "portico <command> --help" for the flags of a command.
`

// run is the whole program, callable from tests: it parses args and runs the subcommand.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitError(2)
	}
	switch args[0] {
	case "serve":
		return runServe(ctx, args[1:], getenv, stdout, stderr)
	case "catalog":
		if len(args) > 1 && args[1] == "lint" {
			return runLint(args[2:], stdout, stderr)
		}
	case "scorecard":
		if len(args) > 1 && args[1] == "check" {
			return runScorecardCheck(args[2:], stdout, stderr)
		}
	case "pipeline":
		if len(args) > 1 && args[1] == "report" {
			return runReport(ctx, args[2:], getenv, stdout, stderr)
		}
	case "version", "--version":
		fmt.Fprintf(stdout, "portico %s\n", versionString())
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprintf(stderr, "portico: unknown command %q\n\n%s", args[0], usage)
	return exitError(2)
}
