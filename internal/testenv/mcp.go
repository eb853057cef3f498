package testenv

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// bearerTransport sends every request with a token, as an MCP client configured with one does.
type bearerTransport struct{ token string }

func (b bearerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	if b.token != "" { // none: an anonymous client
		r.Header.Set("Authorization", "Bearer "+b.token)
	}
	return http.DefaultTransport.RoundTrip(r)
}

// BearerClient is an HTTP client that sends token with every request.
func BearerClient(token string) *http.Client { return &http.Client{Transport: bearerTransport{token}} }

// MCPSession connects the MCP Go SDK's client, named client, to base's /mcp with token;
// closed when the test ends.
func MCPSession(tb testing.TB, base, token, client string) *mcp.ClientSession {
	tb.Helper()
	c := mcp.NewClient(&mcp.Implementation{Name: client, Version: "1.0"}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cs, err := c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: base + "/mcp", HTTPClient: BearerClient(token),
		DisableStandaloneSSE: true, MaxRetries: -1}, nil)
	if err != nil {
		tb.Fatalf("connect to %s/mcp: %v", base, err)
	}
	tb.Cleanup(func() { cs.Close() })
	return cs
}

// CallTool calls a tool and returns its structured answer, its text, and whether it is an
// error answer (then the text says why).
func CallTool(tb testing.TB, cs *mcp.ClientSession, name string, args map[string]any) (map[string]any, string, bool) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		tb.Fatalf("%s: %v", name, err)
	}
	var text []string
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			text = append(text, tc.Text)
		}
	}
	out, _ := res.StructuredContent.(map[string]any)
	return out, strings.Join(text, "\n"), res.IsError
}

// ToolsOf lists the session's tools by name.
func ToolsOf(tb testing.TB, cs *mcp.ClientSession) map[string]*mcp.Tool {
	tb.Helper()
	res, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string]*mcp.Tool{}
	for _, tl := range res.Tools {
		out[tl.Name] = tl
	}
	return out
}
