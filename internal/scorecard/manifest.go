package scorecard

import (
	"errors"
	"fmt"
	"io"

	yaml "go.yaml.in/yaml/v3"
)

// Manifest is one object of a manifest file, with where it starts.
type Manifest struct {
	Object map[string]any
	File   string
	Line   int
}

// Kind is the object's kind.
func (m Manifest) Kind() string { s, _ := m.Object["kind"].(string); return s }

// ReadManifests reads the objects of a multi-document YAML (or JSON) file, in the JSON
// shape Kubernetes' own tools use (integers as int64). Empty documents are skipped; a
// document that is not an object with a kind is an error naming its line.
func ReadManifests(file string, r io.Reader) ([]Manifest, error) {
	dec := yaml.NewDecoder(r)
	var out []Manifest
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("%s: %w", file, err)
		}
		if len(n.Content) == 0 || n.Content[0].Kind == yaml.ScalarNode && n.Content[0].Tag == "!!null" {
			continue
		}
		var v any
		if err := n.Decode(&v); err != nil {
			return out, fmt.Errorf("%s:%d: %w", file, n.Line, err)
		}
		obj, ok := jsonShape(v).(map[string]any)
		if !ok || obj["kind"] == nil {
			return out, fmt.Errorf("%s:%d: not a Kubernetes object (no kind)", file, n.Content[0].Line)
		}
		out = append(out, Manifest{Object: obj, File: file, Line: n.Content[0].Line})
	}
}

// jsonShape turns YAML's values into JSON's: int64 integers, string-keyed maps.
func jsonShape(v any) any {
	switch x := v.(type) {
	case int:
		return int64(x)
	case map[string]any:
		for k, e := range x {
			x[k] = jsonShape(e)
		}
		return x
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[fmt.Sprint(k)] = jsonShape(e)
		}
		return m
	case []any:
		for i, e := range x {
			x[i] = jsonShape(e)
		}
		return x
	}
	return v
}

// IsWorkload says whether the object is one the checks grade as a workload.
func IsWorkload(obj map[string]any) bool {
	k, _ := obj["kind"].(string)
	return k == "Deployment" || k == "StatefulSet"
}
