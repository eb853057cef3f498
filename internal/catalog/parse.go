package catalog

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"

	yaml "go.yaml.in/yaml/v3"

	"github.com/portico-dev/portico/internal/limits"
)

// document is one YAML document of a catalog file: its decoded value and its node tree, which
// keeps the line and column of every field for error messages.
type document struct {
	file  string
	index int
	node  *yaml.Node // the document's root mapping
	value map[string]any
	// unresolved holds the dotted paths of placeholders that could not be read; their emptiness
	// is already reported and not the author's mistake.
	unresolved map[string]bool
}

var yamlLineRE = regexp.MustCompile(`line (\d+)`)

// maxNodes bounds one document's values with its aliases expanded: real entities hold a few
// hundred; an alias bomb holds billions.
const maxNodes = 100000

// parseDocuments splits a file into YAML documents. A syntax error fails the whole file, since
// the documents after it cannot be trusted.
func parseDocuments(file string, data []byte) ([]document, []Problem) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []document
	for i := 0; ; i++ {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, []Problem{yamlProblem(file, err)}
		}
		if err := limits.YAMLDepth(fmt.Sprintf("document %d", i+1), &n, limits.MaxDepth, maxNodes); err != nil {
			return nil, []Problem{{File: file, Line: n.Line, Column: n.Column, Severity: SeverityError, Message: err.Error()}}
		}
		if len(n.Content) == 0 || (n.Content[0].Kind == yaml.ScalarNode && n.Content[0].Tag == "!!null") {
			continue // an empty document, e.g. after a trailing ---
		}
		root := n.Content[0]
		if root.Kind != yaml.MappingNode {
			return nil, []Problem{{File: file, Line: root.Line, Column: root.Column, Severity: SeverityError,
				Message: fmt.Sprintf("document %d is not a mapping: an entity needs apiVersion, kind and metadata", i+1)}}
		}
		var v map[string]any
		if err := root.Decode(&v); err != nil {
			return nil, []Problem{yamlProblem(file, err)}
		}
		docs = append(docs, document{file: file, index: i, node: root, value: v})
	}
}

func yamlProblem(file string, err error) Problem {
	p := Problem{File: file, Severity: SeverityError, Message: "invalid YAML: " + err.Error()}
	if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
		p.Line, _ = strconv.Atoi(m[1])
		p.Column = 1
	}
	return p
}

// position returns the line and column of the node at path (map keys, or list indexes as
// decimal strings), or of the deepest ancestor that exists.
func (d *document) position(path ...string) (int, int) {
	n := d.node
	for _, key := range path {
		next := child(n, key)
		if next == nil {
			break
		}
		n = next
	}
	return n.Line, n.Column
}

func child(n *yaml.Node, key string) *yaml.Node {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				return n.Content[i+1]
			}
		}
	case yaml.SequenceNode:
		if i, err := strconv.Atoi(key); err == nil && i >= 0 && i < len(n.Content) {
			return n.Content[i]
		}
	}
	return nil
}

// problem builds a problem located at path inside the document.
func (d *document) problem(sev Severity, ref string, msg string, path ...string) Problem {
	line, col := d.position(path...)
	return Problem{File: d.file, Line: line, Column: col, Severity: sev, Message: msg, Entity: ref}
}
