package catalog

import "testing"

func TestLinkURL(t *testing.T) {
	for _, tt := range []struct {
		url  string
		want bool
	}{
		{"https://grafana.acme.example/d/maps", true},
		{"http://wiki.acme.example/x?y=1#z", true},
		{"mailto:payments@acme.example", true},
		{"runbooks/maps.md", true},
		{"./docs/index.md", true},
		{"/runbooks/payment.md", true},
		{"javascript:alert(5)", false},
		{"JaVaScRiPt:alert(5)", false},
		{" javascript:alert(5)", false},
		{"java\tscript:alert(5)", false},
		{"java\nscript:alert(5)", false},
		{"&#x6A;avascript:alert(5)", false},
		{"data:text/html,<script>alert(5)</script>", false},
		{"vbscript:msgbox(1)", false},
		{"file:///etc/passwd", false},
		{"//evil.example/x", false},
		{"https://", false},
		{"mailto:", false},
		{"\\\\evil.example\\share", false},
		{"", false},
	} {
		if got := LinkURL(tt.url); got != tt.want {
			t.Errorf("LinkURL(%q) = %v, want %v", tt.url, got, tt.want)
		}
	}
}
