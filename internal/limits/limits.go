// Package limits bounds what Portico's parsers accept from outside — catalog files, webhook
// payloads, the policy and configuration files, annotations — by size and nesting depth, so
// a broken or hostile input gets a clear error instead of a deep recursion, a huge
// allocation or an alias bomb's expansion. Pure: the standard library and YAML nodes only.
package limits

import (
	"fmt"

	yaml "go.yaml.in/yaml/v3"
)

// Depths.
const (
	// MaxDepth is the deepest nesting any accepted document has (a catalog entity, a CI
	// payload, the policy, the configuration): real ones stay below 20.
	MaxDepth = 64
)

// Size refuses an input over max bytes, naming what it is.
func Size(what string, n, max int) error {
	if n > max {
		return fmt.Errorf("%s is %d bytes, over the limit of %d", what, n, max)
	}
	return nil
}

// JSONDepth refuses a JSON document nested deeper than max (objects and arrays), reading its
// bytes once without decoding; strings are skipped, so brackets inside them do not count.
// Malformed JSON is left for the decoder to report.
func JSONDepth(what string, b []byte, max int) error {
	depth, inString, escaped := 0, false, false
	for _, c := range b {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
			if depth > max {
				return fmt.Errorf("%s is nested deeper than %d levels", what, max)
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return nil
}

// YAMLDepth refuses a YAML node tree nested deeper than max, or holding more than maxNodes
// nodes counting what its aliases point at each time they are used (the expansion an alias
// bomb relies on), before it is decoded into values.
func YAMLDepth(what string, n *yaml.Node, max, maxNodes int) error {
	count := 0
	var walk func(n *yaml.Node, depth int) error
	walk = func(n *yaml.Node, depth int) error {
		if n == nil {
			return nil
		}
		count++
		if count > maxNodes {
			return fmt.Errorf("%s has more than %d values once its aliases are expanded", what, maxNodes)
		}
		if depth > max {
			return fmt.Errorf("%s is nested deeper than %d levels", what, max)
		}
		if n.Kind == yaml.AliasNode {
			return walk(n.Alias, depth+1)
		}
		for _, c := range n.Content {
			if err := walk(c, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	return walk(n, 0)
}
