package catalog

import (
	"fmt"
	"sort"
	"strings"
)

// Relation types, in pairs: each edge is stored on both ends.
const (
	RelOwnedBy       = "ownedBy"
	RelOwnerOf       = "ownerOf"
	RelPartOf        = "partOf"
	RelHasPart       = "hasPart"
	RelProvidesAPI   = "providesApi"
	RelAPIProvidedBy = "apiProvidedBy"
	RelConsumesAPI   = "consumesApi"
	RelAPIConsumedBy = "apiConsumedBy"
	RelDependsOn     = "dependsOn"
	RelDependencyOf  = "dependencyOf"
	RelMemberOf      = "memberOf"
	RelHasMember     = "hasMember"
	RelChildOf       = "childOf"
	RelParentOf      = "parentOf"
)

// refField says which spec field of which kind refers to other entities, the kind a bare name
// means there (empty: the reference must name its kind, as Backstage requires), and the
// relation it creates with its inverse.
type refField struct {
	kind, field, defaultKind, rel, inverse string
}

var refFields = []refField{
	{"Component", "owner", "Group", RelOwnedBy, RelOwnerOf},
	{"Component", "system", "System", RelPartOf, RelHasPart},
	{"Component", "subcomponentOf", "Component", RelPartOf, RelHasPart},
	{"Component", "providesApis", "API", RelProvidesAPI, RelAPIProvidedBy},
	{"Component", "consumesApis", "API", RelConsumesAPI, RelAPIConsumedBy},
	{"Component", "dependsOn", "", RelDependsOn, RelDependencyOf},
	{"Component", "dependencyOf", "", RelDependencyOf, RelDependsOn},
	{"API", "owner", "Group", RelOwnedBy, RelOwnerOf},
	{"API", "system", "System", RelPartOf, RelHasPart},
	{"Resource", "owner", "Group", RelOwnedBy, RelOwnerOf},
	{"Resource", "system", "System", RelPartOf, RelHasPart},
	{"Resource", "dependsOn", "", RelDependsOn, RelDependencyOf},
	{"Resource", "dependencyOf", "", RelDependencyOf, RelDependsOn},
	{"System", "owner", "Group", RelOwnedBy, RelOwnerOf},
	{"System", "domain", "Domain", RelPartOf, RelHasPart},
	{"Domain", "owner", "Group", RelOwnedBy, RelOwnerOf},
	{"Domain", "subdomainOf", "Domain", RelPartOf, RelHasPart},
	{"Group", "parent", "Group", RelChildOf, RelParentOf},
	{"Group", "children", "Group", RelParentOf, RelChildOf},
	{"Group", "members", "User", RelHasMember, RelMemberOf},
	{"User", "memberOf", "Group", RelMemberOf, RelHasMember},
}

func refValues(v any) []any {
	switch x := v.(type) {
	case nil:
		return nil
	case []any:
		return x
	default:
		return []any{x}
	}
}

// Outgoing returns the references an entity's spec makes, with their relation types.
func Outgoing(e *Entity) []Relation {
	var out []Relation
	for _, f := range refFields {
		if !strings.EqualFold(f.kind, e.Kind) {
			continue
		}
		for _, raw := range refValues(e.Spec[f.field]) {
			r, err := parseRefValue(raw, f.defaultKind, e.Metadata.Namespace)
			if err != nil {
				continue // reported by validation
			}
			out = append(out, Relation{Type: f.rel, Target: r})
		}
	}
	return out
}

func inverseOf(rel string) string {
	for _, f := range refFields {
		if f.rel == rel {
			return f.inverse
		}
	}
	return ""
}

// linkRelations fills every entity's Relations from all entities' outgoing references, both
// directions, and returns a warning for each reference to an entity that does not exist.
// Entities are modified in place: call it only on entities no reader sees yet.
func linkRelations(entities map[string]*Entity) []Unresolved {
	type edge struct{ from, rel, to string }
	seen := map[edge]bool{}
	add := func(from *Entity, rel string, to Ref) {
		k := edge{from.Ref().Key(), rel, to.Key()}
		if seen[k] {
			return
		}
		seen[k] = true
		from.Relations = append(from.Relations, Relation{Type: rel, Target: to})
	}
	for _, e := range entities {
		e.Relations = nil
	}
	var missing []Unresolved
	for _, e := range entities {
		for _, r := range Outgoing(e) {
			target, ok := entities[r.Target.Key()]
			if !ok {
				missing = append(missing, Unresolved{From: e.Ref(), Rel: r.Type, To: r.Target})
				add(e, r.Type, r.Target)
				continue
			}
			add(e, r.Type, target.Ref())
			add(target, inverseOf(r.Type), e.Ref())
		}
	}
	for _, e := range entities {
		sort.Slice(e.Relations, func(i, j int) bool {
			a, b := e.Relations[i], e.Relations[j]
			if a.Type != b.Type {
				return a.Type < b.Type
			}
			return a.Target.Key() < b.Target.Key()
		})
	}
	sort.Slice(missing, func(i, j int) bool {
		return missing[i].From.Key()+missing[i].To.Key() < missing[j].From.Key()+missing[j].To.Key()
	})
	return missing
}

// Unresolved is a reference to an entity that is not in the catalog.
type Unresolved struct {
	From Ref
	Rel  string
	To   Ref
}

func (u Unresolved) String() string {
	return fmt.Sprintf("%s refers to %s (%s), which is not in the catalog", u.From.Short(), u.To.Short(), u.Rel)
}

// findCycles reports loops in the hierarchies that must be trees: partOf (subcomponents,
// subdomains) and childOf (group parents). Each cycle is reported once.
func findCycles(entities map[string]*Entity) [][]Ref {
	var cycles [][]Ref
	reported := map[string]bool{}
	for _, rel := range []string{RelPartOf, RelChildOf} {
		for _, start := range sortedKeys(entities) {
			path := []Ref{}
			onPath := map[string]int{}
			cur := entities[start]
			for cur != nil {
				k := cur.Ref().Key()
				if i, ok := onPath[k]; ok {
					loop := append(append([]Ref{}, path[i:]...), cur.Ref())
					id := cycleID(loop)
					if !reported[id] {
						reported[id] = true
						cycles = append(cycles, loop)
					}
					break
				}
				onPath[k] = len(path)
				path = append(path, cur.Ref())
				next := cur.RelationsOf(rel)
				if rel == RelPartOf {
					next = sameKindParents(cur, next)
				}
				if len(next) == 0 {
					break
				}
				cur = entities[next[0].Key()]
			}
		}
	}
	return cycles
}

// sameKindParents keeps the partOf edges that form a hierarchy of one kind
// (component→component, domain→domain); component→system is a different tree.
func sameKindParents(e *Entity, refs []Ref) []Ref {
	var out []Ref
	for _, r := range refs {
		if strings.EqualFold(r.Kind, e.Kind) {
			out = append(out, r)
		}
	}
	return out
}

func cycleID(loop []Ref) string {
	keys := make([]string, 0, len(loop)-1)
	for _, r := range loop[:len(loop)-1] {
		keys = append(keys, r.Key())
	}
	sort.Strings(keys)
	return strings.Join(keys, ",")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
