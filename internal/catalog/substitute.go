package catalog

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// substituter resolves $text, $json and $yaml placeholders against the files of one source.
type substituter struct {
	fsys    fs.FS
	maxSize int64
}

// resolve replaces every placeholder in the document's value. A placeholder that reaches
// outside the source is an error; one naming a remote URL or a missing file is a warning and
// leaves an empty value, recorded in d.unresolved so validation does not report it twice.
func (s *substituter) resolve(d *document, ref string) (ps []Problem) {
	d.unresolved = map[string]bool{}
	var walk func(v any, p []string) any
	walk = func(v any, p []string) any {
		switch x := v.(type) {
		case map[string]any:
			if len(x) == 1 {
				for k, arg := range x {
					if k == "$text" || k == "$json" || k == "$yaml" {
						out, prob := s.substitute(d, ref, k, arg, p)
						if prob != nil {
							ps = append(ps, *prob)
							d.unresolved[strings.Join(p, ".")] = true
						}
						return out
					}
				}
			}
			for k, val := range x {
				x[k] = walk(val, append(p, k))
			}
		case []any:
			for i, val := range x {
				x[i] = walk(val, append(p, strconv.Itoa(i)))
			}
		}
		return v
	}
	walk(d.value, nil)
	return ps
}

func (s *substituter) substitute(d *document, ref, kind string, arg any, p []string) (any, *Problem) {
	target, ok := arg.(string)
	fail := func(sev Severity, msg string) (any, *Problem) {
		pr := d.problem(sev, ref, msg, p...)
		return "", &pr
	}
	if !ok || target == "" {
		return fail(SeverityError, fmt.Sprintf("%s needs a file path", kind))
	}
	if strings.Contains(target, "://") {
		return fail(SeverityWarning, fmt.Sprintf("%s %s was not read: remote reads are not enabled; the value is left empty", kind, target))
	}
	file, err := resolveInSource(d.file, target)
	if err != nil {
		return fail(SeverityError, fmt.Sprintf("%s %s: %v", kind, target, err))
	}
	data, err := readLimited(s.fsys, file, s.maxSize)
	if err != nil {
		return fail(SeverityWarning, fmt.Sprintf("%s %s could not be read: %v", kind, target, err))
	}
	switch kind {
	case "$json":
		var v any
		if err := json.Unmarshal(data, &v); err != nil {
			return fail(SeverityError, fmt.Sprintf("$json %s is not valid JSON: %v", target, err))
		}
		return v, nil
	case "$yaml":
		var v any
		if err := yaml.Unmarshal(data, &v); err != nil {
			return fail(SeverityError, fmt.Sprintf("$yaml %s is not valid YAML: %v", target, err))
		}
		return v, nil
	}
	return string(data), nil
}

// resolveInSource resolves target relative to the folder of file, refusing anything that would
// leave the source root (absolute paths or ".." beyond the root).
func resolveInSource(file, target string) (string, error) {
	if path.IsAbs(target) || strings.HasPrefix(target, "\\") {
		return "", fmt.Errorf("absolute paths are not allowed; use a path relative to the file")
	}
	joined := path.Join(path.Dir(file), target)
	if joined == ".." || strings.HasPrefix(joined, "../") || !fs.ValidPath(joined) {
		return "", fmt.Errorf("refusing to read outside the catalog source")
	}
	return joined, nil
}

// readLimited reads a file of the source, refusing files over max bytes.
func readLimited(fsys fs.FS, name string, max int64) ([]byte, error) {
	st, err := fs.Stat(fsys, name)
	if err != nil {
		return nil, cleanFSError(err)
	}
	if st.IsDir() {
		return nil, fmt.Errorf("%s is a folder", name)
	}
	if max > 0 && st.Size() > max {
		return nil, fmt.Errorf("file is %d bytes, over the limit of %d bytes", st.Size(), max)
	}
	data, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, cleanFSError(err)
	}
	return data, nil
}

// cleanFSError drops the operating system's absolute paths from fs errors.
func cleanFSError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %v", pe.Path, pe.Err)
	}
	return err
}
