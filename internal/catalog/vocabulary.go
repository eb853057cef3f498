package catalog

import "strings"

// ProjectSlugs are the repository slugs (owner/repo, group/project) an entity's CI runs are
// reported under: its github.com/project-slug and gitlab.com/project-slug annotations.
func (e *Entity) ProjectSlugs() []string {
	var out []string
	for _, k := range []string{AnnotationProjectSlug, AnnotationGitlabSlug} {
		if v := strings.TrimSpace(e.Metadata.Annotations[k]); v != "" {
			out = append(out, v)
		}
	}
	return out
}
