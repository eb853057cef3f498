// Package static embeds the portal's CSS, JavaScript and icons so nothing is fetched from a
// CDN at runtime.
package static

import "embed"

// FS holds the static assets, served under /static/.
//
//go:embed *.css *.js *.svg
var FS embed.FS
