package catalog

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBackstageVerdicts reads each file of Backstage's own examples and checks that Portico's
// verdict matches the one Backstage's validator gave (VERDICTS.tsv).
func TestBackstageVerdicts(t *testing.T) {
	dir := filepath.Join("testdata", "backstage-examples")
	if env := os.Getenv("PORTICO_FIXTURES"); env != "" {
		dir = env
	}
	f, err := os.Open(filepath.Join(dir, "VERDICTS.tsv"))
	if err != nil {
		t.Fatalf("fixtures not found: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	n := 0
	for sc.Scan() {
		cols := strings.SplitN(sc.Text(), "\t", 3)
		file, verdict := cols[0], cols[1]
		n++
		t.Run(file, func(t *testing.T) {
			r := &Reader{Source: "fixtures", Location: "file:" + dir, FS: os.DirFS(dir), Patterns: []string{file}}
			rd := r.Read()
			var errs, warns []Problem
			for _, p := range rd.Problems {
				if p.File != file {
					continue
				}
				if p.Severity == SeverityError {
					errs = append(errs, p)
				} else {
					warns = append(warns, p)
				}
			}
			recs := 0
			for _, rec := range rd.Records {
				if rec.File == file {
					recs++
				}
			}
			switch verdict {
			case "valid":
				if len(errs)+len(warns) > 0 || recs == 0 {
					t.Errorf("Backstage: valid; Portico: %d entities, problems %v", recs, append(errs, warns...))
				}
			case "invalid":
				if len(errs) == 0 {
					t.Fatalf("Backstage: invalid; Portico found no error (%d entities)", recs)
				}
				for _, e := range errs {
					if e.Line == 0 {
						t.Errorf("error without a line: %v", e)
					}
				}
			case "skip":
				if len(errs) > 0 || recs == 0 {
					t.Errorf("Backstage: skip (unreadable remote or unknown kind); Portico should keep the entity and warn at most: %d entities, errors %v", recs, errs)
				}
			case "not-an-entity":
				if recs > 0 || len(errs) > 0 {
					t.Errorf("not an entity file: got %d entities, errors %v", recs, errs)
				}
			default:
				t.Fatalf("unknown verdict %q", verdict)
			}
		})
	}
	if n < 50 {
		t.Fatalf("read only %d verdicts", n)
	}
}
