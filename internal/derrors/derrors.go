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

// Error is an error of a known kind whose message is written for the person using the
// portal, with the cause that led to it kept for the log only. Use it whenever the cause's
// own text (a database, Kubernetes client or HTTP client error) is not meant for people:
//
//	derrors.E(derrors.Unavailable, "The audit log cannot be written, so nothing was changed", err)
type Error struct {
	Kind  error  // one of the kinds above
	Msg   string // shown to users as written
	Cause error  // logged, never shown; may be nil
}

// E returns an Error of kind with msg for users and cause for the log.
func E(kind error, msg string, cause error) error { return &Error{Kind: kind, Msg: msg, Cause: cause} }

// Error is the whole story, for logs: the user's message and the cause.
func (e *Error) Error() string {
	if e.Cause == nil {
		return e.Kind.Error() + ": " + e.Msg
	}
	return e.Kind.Error() + ": " + e.Msg + ": " + e.Cause.Error()
}

// Unwrap lets errors.Is find the kind and the cause.
func (e *Error) Unwrap() []error {
	if e.Cause == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Cause}
}
