package catalog

import (
	"net/url"
	"strings"
)

// LinkURL reports whether an address from a catalog file may be rendered as a link: http,
// https and mailto addresses, and relative paths (such as runbooks/payment.md). Anything
// else — javascript:, data:, vbscript:, file:, protocol-relative //host, addresses with control
// characters that browsers would strip — is data to show as text, never markup.
func LinkURL(raw string) bool {
	if raw == "" || strings.TrimSpace(raw) != raw || strings.ContainsAny(raw, "\\\x00") {
		return false
	}
	for _, r := range raw {
		if r < 0x20 || r == 0x7f {
			return false // browsers drop tabs and newlines: "java\tscript:" is javascript:
		}
	}
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
		return u.Host != ""
	case "mailto":
		return u.Opaque != ""
	case "":
		// A relative path: no host (//evil.example), and no colon before the first slash,
		// which a browser could read as a scheme.
		first, _, _ := strings.Cut(raw, "/")
		return u.Host == "" && !strings.HasPrefix(raw, "//") && !strings.Contains(first, ":")
	}
	return false
}

func clipText(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
