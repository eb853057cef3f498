// Package static embeds the portal's CSS, JavaScript and icons so nothing is fetched from a
// CDN at runtime.
package static

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
)

// FS holds the static assets, served under /static/.
//
//go:embed *.css *.js *.svg
var FS embed.FS

// Version is a digest of every asset, for cache-busting URLs.
var Version = func() string {
	h := sha256.New()
	_ = fs.WalkDir(FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := FS.ReadFile(p)
			h.Write([]byte(p))
			h.Write(b)
		}
		return nil
	})
	return hex.EncodeToString(h.Sum(nil))[:12]
}()
