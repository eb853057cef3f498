package runbooks

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLibrary(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "payment.md"), []byte("# Payment service runbook\n\nWhat to do when payments fail.\n\n## Mitigation\n\n<script>alert(1)</script>\n<a href=\"javascript:alert(1)\">x</a>\n\n[entity-encoded](&#x6A;avascript:alert(2)) [mixed](JaVaScRiPt:alert(3)) [data](data:text/html,<script>alert(4)</script>)\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"), 0o644)
	os.MkdirAll(filepath.Join(dir, "platform"), 0o755)
	os.WriteFile(filepath.Join(dir, "platform", "search.md"), []byte("# Search\n\nElasticsearch reindex.\n"), 0o644)
	l, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(l.List("")); got != 2 {
		t.Fatalf("List = %d runbooks, want 2", got)
	}
	if got := l.List("reindex"); len(got) != 1 || got[0].Path != "platform/search.md" {
		t.Errorf("search reindex = %v", got)
	}
	b, ok := l.Get("runbooks/payment.md")
	if !ok {
		t.Fatal("Get with a runbooks/ prefix should find payment.md")
	}
	if b.Title != "Payment service runbook" || b.Summary != "What to do when payments fail." {
		t.Errorf("title %q summary %q", b.Title, b.Summary)
	}
	html, err := l.HTML(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"<script", "javascript:", "avascript", "data:text"} {
		if strings.Contains(strings.ToLower(html), bad) {
			t.Errorf("rendered HTML keeps %q: %s", bad, html)
		}
	}
	for _, good := range []string{`<h2 id="mitigation">`, "<table>"} {
		if !strings.Contains(html, good) {
			t.Errorf("rendered HTML lacks %q: %s", good, html)
		}
	}
	if _, ok := l.Get("../etc/passwd"); ok {
		t.Error("paths outside the folder must not resolve")
	}
}

func TestSectionHTML(t *testing.T) {
	dir := t.TempDir()
	src := "# Pay\n\nIntro.\n\n## Diagnosis\n\nLook.\n\n## Mitigation\n\nRoll back.\n\n```\n# not a heading\n```\n\n### Details\n\nMore.\n\n## Escalation\n\nCall.\n"
	if err := os.WriteFile(filepath.Join(dir, "pay.md"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	lib, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := lib.Get("pay.md")
	got, err := lib.SectionHTML(b, "mitigation")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Roll back.", "# not a heading", "More."} {
		if !strings.Contains(got, want) {
			t.Errorf("section = %q, want it to contain %q", got, want)
		}
	}
	for _, not := range []string{"Look.", "Call.", "Intro."} {
		if strings.Contains(got, not) {
			t.Errorf("section = %q, want no %q", got, not)
		}
	}
	if got, _ := lib.SectionHTML(b, "nothing like it"); got != "" {
		t.Errorf("missing section = %q, want empty", got)
	}
}
