package server

import (
	"fmt"
	"testing"
	"time"
)

// TestSharedEvictsTheOldestNotEverything: past its size the cache drops the least recently
// used answers, not all of them (it used to start afresh, so a busy portal recomputed every
// triage at once), and an answer older than its TTL is computed again.
func TestSharedEvictsTheOldestNotEverything(t *testing.T) {
	var c shared[int]
	computed := map[string]int{}
	get := func(key string, ttl time.Duration) int {
		return c.get(key, ttl, func() int { computed[key]++; return computed[key] })
	}
	const ttl = time.Hour
	get("hot", ttl)
	for i := range maxShared + 50 {
		get(fmt.Sprint("cold-", i), ttl)
		if i%100 == 0 {
			get("hot", ttl) // in use all along
		}
	}
	if computed["hot"] != 1 {
		t.Errorf("an answer in use was computed %d times; the cache dropped it", computed["hot"])
	}
	if get("cold-0", ttl); computed["cold-0"] != 2 {
		t.Errorf("the least recently used answer should have been evicted (computed %d times)", computed["cold-0"])
	}

	var short shared[int]
	n := 0
	for range 2 {
		short.get("k", 20*time.Millisecond, func() int { n++; return n })
	}
	deadline := time.Now().Add(10 * time.Second)
	for short.get("k", 20*time.Millisecond, func() int { n++; return n }) == 1 {
		if time.Now().After(deadline) {
			t.Fatal("an answer past its TTL is still served")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n != 2 {
		t.Errorf("computed %d times, want 2 (once, then after expiry)", n)
	}
}
