package server

import (
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// shared keeps answers that everyone asking the same question within a short time may share
// (a triage, what is on fire), computing each at most once at a time.
type shared[T any] struct {
	mu      sync.Mutex
	entries map[string]sharedEntry[T]
	flights singleflight.Group
}

type sharedEntry[T any] struct {
	v  T
	at time.Time
}

// maxShared bounds the entries kept; past it the map starts afresh.
const maxShared = 2000

// get returns the answer for key if it is younger than ttl, else computes it once for all
// callers waiting on the key.
func (c *shared[T]) get(key string, ttl time.Duration, compute func() T) T {
	c.mu.Lock()
	if e, ok := c.entries[key]; ok && time.Since(e.at) < ttl {
		c.mu.Unlock()
		return e.v
	}
	c.mu.Unlock()
	v, _, _ := c.flights.Do(key, func() (any, error) {
		v := compute()
		c.mu.Lock()
		if c.entries == nil || len(c.entries) >= maxShared {
			c.entries = map[string]sharedEntry[T]{}
		}
		c.entries[key] = sharedEntry[T]{v: v, at: time.Now()}
		c.mu.Unlock()
		return v, nil
	})
	return v.(T)
}
