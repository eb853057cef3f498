package ingest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/portico-dev/portico/internal/limits"
)

// ErrBadSignature means a webhook was unsigned or signed with none of the configured secrets.
var ErrBadSignature = errors.New("webhook signature missing or invalid")

// VerifySignature checks a GitHub X-Hub-Signature-256 header ("sha256=<hex>") against the
// body with each secret (several, so a secret can be rotated), in constant time.
func VerifySignature(secrets []string, body []byte, header string) error {
	sig, ok := strings.CutPrefix(header, "sha256=")
	if !ok {
		return ErrBadSignature
	}
	got, err := hex.DecodeString(sig)
	if err != nil {
		return ErrBadSignature
	}
	for _, s := range secrets {
		if s == "" {
			continue
		}
		mac := hmac.New(sha256.New, []byte(s))
		mac.Write(body)
		if hmac.Equal(got, mac.Sum(nil)) {
			return nil
		}
	}
	return ErrBadSignature
}

// Sign returns the X-Hub-Signature-256 value for body, as GitHub computes it.
func Sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Push is what a push webhook says: which repository (its URLs) and which ref moved.
type Push struct {
	Ref  string
	URLs []string
}

// ParsePush reads a GitHub push payload (GitLab's push hook has the same fields under
// "project" and is accepted too).
func ParsePush(body []byte) (Push, error) {
	if err := limits.Size("the push payload", len(body), 1<<20); err != nil {
		return Push{}, err
	}
	if err := limits.JSONDepth("the push payload", body, limits.MaxDepth); err != nil {
		return Push{}, err
	}
	var p struct {
		Ref        string `json:"ref"`
		Repository struct {
			CloneURL string `json:"clone_url"`
			SSHURL   string `json:"ssh_url"`
			HTMLURL  string `json:"html_url"`
			GitURL   string `json:"git_url"`
		} `json:"repository"`
		Project struct {
			HTTPURL string `json:"git_http_url"`
			SSHURL  string `json:"git_ssh_url"`
			WebURL  string `json:"web_url"`
		} `json:"project"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return Push{}, fmt.Errorf("push payload is not valid JSON: %w", err)
	}
	urls := []string{p.Repository.CloneURL, p.Repository.SSHURL, p.Repository.HTMLURL, p.Repository.GitURL,
		p.Project.HTTPURL, p.Project.SSHURL, p.Project.WebURL}
	var out []string
	for _, u := range urls {
		if u != "" {
			out = append(out, u)
		}
	}
	if len(out) == 0 {
		return Push{}, errors.New("push payload names no repository")
	}
	return Push{Ref: p.Ref, URLs: out}, nil
}
