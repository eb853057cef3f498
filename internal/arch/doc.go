// Package arch holds no code: its test keeps the dependencies pointing one way — cmd → HTTP
// layer (internal/server) → domain packages → ent, client-go and HTTP clients — by reading
// every package's imports with go list.
package arch
