package server

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/portico-dev/portico/internal/derrors"
)

// TestClassify: each kind maps to its status; users read the message written for them —
// never a cause's own text — with names and e-mails as written.
func TestClassify(t *testing.T) {
	dbDown := errors.New(`dial tcp 10.0.0.5:5432: connect: connection refused`)
	tests := []struct {
		name       string
		err        error
		wantStatus int
		wantMsg    string
		notShown   string
	}{
		{"typed error keeps its cause for the log", derrors.E(derrors.Unavailable, "The audit log cannot be written, so nothing was changed", dbDown),
			http.StatusServiceUnavailable, "The audit log cannot be written, so nothing was changed.", "dial tcp"},
		{"wrapped typed error", fmt.Errorf("restart: %w", derrors.E(derrors.Conflict, "ledger changed since this page was loaded", dbDown)),
			http.StatusConflict, "ledger changed since this page was loaded.", "10.0.0.5"},
		{"an e-mail first is not capitalised", fmt.Errorf("%w: oscar.lind@acme.example may not view maps", derrors.Forbidden),
			http.StatusForbidden, "oscar.lind@acme.example may not view maps.", "Oscar"},
		{"a name first is not capitalised", fmt.Errorf("%w: ledger has no revision 9", derrors.Invalid),
			http.StatusBadRequest, "ledger has no revision 9.", "Ledger"},
		{"unknown errors say nothing of their cause", fmt.Errorf("read runs: %w", dbDown),
			http.StatusInternalServerError, "The portal could not complete this request", "dial tcp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, msg := classify(tt.err)
			if status != tt.wantStatus || !strings.HasPrefix(msg, tt.wantMsg) || strings.Contains(msg, tt.notShown) {
				t.Errorf("classify = %d %q, want %d %q without %q", status, msg, tt.wantStatus, tt.wantMsg, tt.notShown)
			}
		})
	}
	if e := derrors.E(derrors.Unavailable, "msg", dbDown); !errors.Is(e, derrors.Unavailable) || !errors.Is(e, dbDown) || !strings.Contains(e.Error(), "dial tcp") {
		t.Errorf("the typed error must match its kind and cause and log both: %v", e)
	}
}
