package main

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The image's user: not root, with a home for the working files (the git cache, SQLite).
const (
	uid, gid = 65532, 65532
	home     = "/home/portico"
	binPath  = "/usr/local/bin/portico"
	caPath   = "/etc/ssl/certs/ca-certificates.crt"
	hostCAs  = "/etc/ssl/certs/ca-certificates.crt" // Debian's bundle, from the ca-certificates package
)

// file is one entry of a layer.
type file struct {
	path     string
	mode     int64
	dir      bool
	uid, gid int
	body     []byte
}

// build makes the image: a base layer (users, CA certificates, home and /tmp) and the binary's.
func build(ctx context.Context, s source) (v1.Image, error) {
	cas, err := os.ReadFile(hostCAs)
	if err != nil {
		return nil, fmt.Errorf("the CA certificates (install ca-certificates): %w", err)
	}
	dir, err := os.MkdirTemp("", "portico-image-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	bin, err := binary(ctx, s, dir)
	if err != nil {
		return nil, err
	}
	exe, err := os.ReadFile(bin)
	if err != nil {
		return nil, err
	}
	base, err := layer(s, []file{
		{path: "etc", mode: 0o755, dir: true},
		{path: "etc/passwd", mode: 0o644, body: fmt.Appendf(nil, "root:x:0:0:root:/root:/sbin/nologin\nportico:x:%d:%d:portico:%s:/sbin/nologin\n", uid, gid, home)},
		{path: "etc/group", mode: 0o644, body: fmt.Appendf(nil, "root:x:0:\nportico:x:%d:\n", gid)},
		{path: "etc/ssl", mode: 0o755, dir: true},
		{path: "etc/ssl/certs", mode: 0o755, dir: true},
		{path: caPath[1:], mode: 0o644, body: cas},
		{path: "home", mode: 0o755, dir: true},
		{path: home[1:], mode: 0o700, dir: true, uid: uid, gid: gid},
		{path: "tmp", mode: 0o1777, dir: true},
	})
	if err != nil {
		return nil, err
	}
	app, err := layer(s, []file{
		{path: "usr", mode: 0o755, dir: true},
		{path: "usr/local", mode: 0o755, dir: true},
		{path: "usr/local/bin", mode: 0o755, dir: true},
		{path: binPath[1:], mode: 0o755, body: exe},
	})
	if err != nil {
		return nil, err
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	created := v1.Time{Time: s.created}
	img, err = mutate.Append(img,
		mutate.Addendum{Layer: base, MediaType: types.OCILayer, History: v1.History{Created: created, CreatedBy: "portico-image: users, CA certificates, home, /tmp"}},
		mutate.Addendum{Layer: app, MediaType: types.OCILayer, History: v1.History{Created: created, CreatedBy: "portico-image: " + binPath + " " + s.version}})
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS, cf.Created = runtime.GOARCH, "linux", created
	cf.Config = v1.Config{
		User:       fmt.Sprintf("%d:%d", uid, gid),
		Entrypoint: []string{binPath},
		// Listening on every interface: in a container the pod's network is the boundary.
		Cmd:          []string{"serve", "--addr", "0.0.0.0:8080"},
		WorkingDir:   home,
		Env:          []string{"PATH=/usr/local/bin", "SSL_CERT_FILE=" + caPath, "HOME=" + home},
		ExposedPorts: map[string]struct{}{"8080/tcp": {}},
		Labels: map[string]string{
			"org.opencontainers.image.title":       "Portico",
			"org.opencontainers.image.description": "An internal developer portal: service catalog, live cluster state, deploys, triage",
			"org.opencontainers.image.version":     s.version,
			"org.opencontainers.image.revision":    s.revision,
			"org.opencontainers.image.source":      s.url,
			"org.opencontainers.image.created":     s.created.Format("2006-01-02T15:04:05Z"),
		},
	}
	return mutate.ConfigFile(img, cf)
}

// layer writes files into a tar with fixed times and owners, so equal inputs give an equal
// layer, and wraps it as an image layer.
func layer(s source, files []file) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{Name: f.path, Mode: f.mode, Uid: f.uid, Gid: f.gid, ModTime: s.created, Format: tar.FormatPAX}
		if f.dir {
			h.Typeflag, h.Name = tar.TypeDir, f.path+"/"
		} else {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(f.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.body); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil },
		tarball.WithMediaType(types.OCILayer))
}

type written struct {
	digest               v1.Hash
	compressed, unpacked int64
	layout, tarball      string
}

// write saves the image as an OCI layout and a tarball under out.
func write(img v1.Image, out, tag string) (written, error) {
	ref, err := name.ParseReference(tag)
	if err != nil {
		return written{}, fmt.Errorf("tag %q: %w", tag, err)
	}
	w := written{layout: filepath.Join(out, "oci"), tarball: filepath.Join(out, "portico.tar")}
	if w.digest, err = img.Digest(); err != nil {
		return w, err
	}
	layers, err := img.Layers()
	if err != nil {
		return w, err
	}
	for _, l := range layers {
		n, err := l.Size()
		if err != nil {
			return w, err
		}
		rc, err := l.Uncompressed()
		if err != nil {
			return w, err
		}
		u, err := io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil {
			return w, err
		}
		w.compressed, w.unpacked = w.compressed+n, w.unpacked+u
	}
	if err := os.RemoveAll(w.layout); err != nil {
		return w, err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return w, err
	}
	p, err := layout.Write(w.layout, empty.Index)
	if err != nil {
		return w, err
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": ref.Name()})); err != nil {
		return w, err
	}
	return w, tarball.WriteToFile(w.tarball, ref, img)
}
