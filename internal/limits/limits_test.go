package limits

import (
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v3"
)

func TestJSONDepth(t *testing.T) {
	deep := strings.Repeat("[", 65) + strings.Repeat("]", 65)
	if err := JSONDepth("the payload", []byte(deep), 64); err == nil || !strings.Contains(err.Error(), "deeper than 64") {
		t.Errorf("65 levels: %v", err)
	}
	ok := `{"a": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", "b": [{"c": "\"{"}]}`
	if err := JSONDepth("the payload", []byte(ok), 3); err != nil {
		t.Errorf("brackets inside strings counted: %v", err)
	}
}

func TestYAMLDepth(t *testing.T) {
	bomb := "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(bomb), &n); err != nil {
		t.Fatal(err)
	}
	if err := YAMLDepth("the file", &n, 64, 5000); err == nil || !strings.Contains(err.Error(), "aliases are expanded") {
		t.Errorf("alias bomb: %v", err)
	}
	var deep yaml.Node
	if err := yaml.Unmarshal([]byte(strings.Repeat("[", 70)+strings.Repeat("]", 70)), &deep); err != nil {
		t.Fatal(err)
	}
	if err := YAMLDepth("the file", &deep, 64, 5000); err == nil || !strings.Contains(err.Error(), "deeper than 64") {
		t.Errorf("deep: %v", err)
	}
	if err := Size("the file", 11, 10); err == nil || !strings.Contains(err.Error(), "over the limit of 10") {
		t.Errorf("size: %v", err)
	}
}
