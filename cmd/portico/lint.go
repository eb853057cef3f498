package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/portico-dev/portico/internal/catalog"
)

const lintUsage = `Usage: portico catalog lint [flags] FILE|DIR...

Checks catalog files with the same parser and validation as the portal. Prints
file:line:col: severity: message for each problem and exits 1 when there are errors.
`

func runLint(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("portico catalog lint", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, lintUsage); fs.PrintDefaults() }
	format := fs.String("format", "text", "output format: text or json")
	glob := fs.String("glob", "**/catalog-info.y*ml", "files to read in each DIR")
	whole := fs.Bool("whole-catalog", false, "the paths are the whole catalog: also warn about references to entities not in them")
	if err := fs.Parse(args); err != nil {
		return exitError(2)
	}
	if fs.NArg() == 0 || (*format != "text" && *format != "json") {
		fs.Usage()
		return exitError(2)
	}
	var records []catalog.Record
	var problems []catalog.Problem
	files := 0
	for _, arg := range fs.Args() {
		rd, n, err := lintPath(arg, *glob)
		if err != nil {
			fmt.Fprintf(stderr, "portico: %v\n", err)
			return exitError(2)
		}
		files += n
		records = append(records, rd.Records...)
		problems = append(problems, rd.Problems...)
	}
	if *whole {
		problems = catalog.NewSnapshot(records, problems).Problems()
	}
	sort.SliceStable(problems, func(i, j int) bool {
		if problems[i].File != problems[j].File {
			return problems[i].File < problems[j].File
		}
		return problems[i].Line < problems[j].Line
	})
	errs, warns := 0, 0
	for _, p := range problems {
		if p.Severity == catalog.SeverityError {
			errs++
		} else {
			warns++
		}
	}
	if *format == "json" {
		if problems == nil {
			problems = []catalog.Problem{}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(map[string]any{"problems": problems, "errors": errs, "warnings": warns, "entities": len(records), "files": files})
	} else {
		for _, p := range problems {
			fmt.Fprintln(stdout, p.String())
		}
		fmt.Fprintf(stderr, "%d %s, %d %s; %d entities in %d files\n", errs, plural(errs, "error"), warns, plural(warns, "warning"), len(records), files)
	}
	if errs > 0 {
		return exitError(1)
	}
	return nil
}

// lintPath reads a file or a folder. Problems are reported with paths as given on the command
// line; substitutions and Location targets are confined to the folder given (or the file's).
func lintPath(arg, glob string) (*catalog.Reading, int, error) {
	st, err := os.Stat(arg)
	if err != nil {
		return nil, 0, fmt.Errorf("cannot read %s: %w", arg, err)
	}
	root, pattern, prefix := arg, glob, arg
	if !st.IsDir() {
		root, pattern, prefix = filepath.Dir(arg), filepath.Base(arg), filepath.Dir(arg)
	}
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, 0, err
	}
	defer r.Close()
	reader := &catalog.Reader{Source: "lint", Location: "file:" + root, FS: r.FS(), Patterns: []string{pattern}}
	rd := reader.Read()
	seen := map[string]bool{}
	for i := range rd.Records {
		seen[rd.Records[i].File] = true
		rd.Records[i].File = joinPath(prefix, rd.Records[i].File)
	}
	for i := range rd.Problems {
		seen[rd.Problems[i].File] = true
		rd.Problems[i].File = joinPath(prefix, rd.Problems[i].File)
		rd.Problems[i].Source = ""
	}
	return rd, len(seen), nil
}

func joinPath(prefix, file string) string {
	if prefix == "." || strings.Contains(file, "*") {
		return file
	}
	return filepath.Join(prefix, file)
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
