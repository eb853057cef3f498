// Package derrors defines the few kinds of error the portal maps to HTTP responses. Code wraps
// them with %w and context; the server's error handler maps each kind to a status and page once.
package derrors

import "errors"

// The error kinds.
var (
	// NotFound: the thing asked for does not exist.
	NotFound = errors.New("not found")
	// Invalid: the request's input is wrong; the message says how.
	Invalid = errors.New("invalid input")
	// Unauthenticated: no valid credentials (or signature) came with the request.
	Unauthenticated = errors.New("unauthenticated")
	// Forbidden: the caller may not do this.
	Forbidden = errors.New("forbidden")
	// Conflict: the target changed since the caller looked.
	Conflict = errors.New("conflict")
	// Unavailable: a backend the request needs is down or too slow.
	Unavailable = errors.New("unavailable")
)
