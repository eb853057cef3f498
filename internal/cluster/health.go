package cluster

import "fmt"

// Level is a health rollup's verdict, ordered from best to worst.
type Level int

// Health levels.
const (
	Healthy Level = iota
	Progressing
	Unknown
	Degraded
	Down
)

func (l Level) String() string {
	return [...]string{"healthy", "progressing", "unknown", "degraded", "down"}[l]
}

// Health is a verdict with the reason found.
type Health struct {
	Level  Level  `json:"level"`
	Reason string `json:"reason,omitempty"`
}

// MarshalText writes the level by name in JSON.
func (l Level) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

// UnmarshalText reads a level written by MarshalText.
func (l *Level) UnmarshalText(b []byte) error {
	for i := Healthy; i <= Down; i++ {
		if i.String() == string(b) {
			*l = i
			return nil
		}
	}
	return fmt.Errorf("unknown health level %q", b)
}

// worst keeps the worse of two verdicts (the first reason found at that level).
func worst(a, b Health) Health {
	if b.Level > a.Level {
		return b
	}
	return a
}
