package server

import (
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2/expirable"
	"golang.org/x/sync/singleflight"
)

// shared keeps answers that everyone asking the same question within a short time may share
// (a triage, what is on fire), computing each at most once at a time. Entries expire after
// the TTL the first get names (each shared is used with one TTL), and past maxShared the
// least recently used go first.
type shared[T any] struct {
	once    sync.Once
	cache   *lru.LRU[string, T]
	flights singleflight.Group
}

// maxShared bounds the entries kept.
const maxShared = 2000

// get returns the answer for key if it is younger than ttl, else computes it once for all
// callers waiting on the key.
func (c *shared[T]) get(key string, ttl time.Duration, compute func() T) T {
	c.once.Do(func() { c.cache = lru.NewLRU[string, T](maxShared, nil, ttl) })
	if v, ok := c.cache.Get(key); ok {
		return v
	}
	v, _, _ := c.flights.Do(key, func() (any, error) {
		v := compute()
		c.cache.Add(key, v)
		return v, nil
	})
	return v.(T)
}
