package main

import (
	"archive/tar"
	"context"
	"debug/elf"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// The image is built twice from the same commit: the same digest. Read back from its tarball
// and its OCI layout, it runs as a non-root user, holds no shell, carries its labels, and its
// binary — static — runs against the demo catalog.
func TestImage(t *testing.T) {
	ctx := context.Background()
	s, err := describe(ctx, "v0.0.0-test")
	if err != nil {
		t.Fatal(err)
	}
	first, err := build(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	w, err := write(first, out, "portico:test")
	if err != nil {
		t.Fatal(err)
	}
	again, err := build(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := again.Digest(); d != w.digest {
		t.Errorf("two builds of one commit differ: %s and %s", w.digest, d)
	}
	t.Logf("image %s: %.1f MB compressed", w.digest, float64(w.compressed)/1e6)

	img, err := tarball.ImageFromPath(w.tarball, nil)
	if err != nil {
		t.Fatal(err)
	}
	// A tarball keeps the config and layers (its manifest is Docker's, so its digest differs).
	want, _ := first.ConfigName()
	if got, _ := img.ConfigName(); got != want {
		t.Errorf("the tarball holds config %s, want %s", got, want)
	}
	idx, err := layout.ImageIndexFromPath(w.layout)
	if err != nil {
		t.Fatal(err)
	}
	m, err := idx.IndexManifest()
	if err != nil || len(m.Manifests) != 1 || m.Manifests[0].Digest != w.digest {
		t.Errorf("the OCI layout's index = %+v (%v), want the one image %s", m, err, w.digest)
	}

	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	if c.User != "65532:65532" {
		t.Errorf("user = %q, want 65532:65532 (not root)", c.User)
	}
	if len(c.Entrypoint) != 1 || c.Entrypoint[0] != binPath || cf.OS != "linux" {
		t.Errorf("entrypoint %v on %s, want [%s] on linux", c.Entrypoint, cf.OS, binPath)
	}
	if c.Labels["org.opencontainers.image.version"] != "v0.0.0-test" || c.Labels["org.opencontainers.image.revision"] != s.revision ||
		c.Labels["org.opencontainers.image.source"] == "" {
		t.Errorf("labels = %v", c.Labels)
	}

	files := unpack(t, img)
	for _, shell := range []string{"bin/sh", "bin/bash", "bin/busybox", "usr/bin/sh"} {
		if _, ok := files[shell]; ok {
			t.Errorf("the image holds a shell: %s", shell)
		}
	}
	for _, want := range []string{"etc/passwd", "etc/group", caPath[1:], binPath[1:]} {
		if len(files[want].body) == 0 {
			t.Errorf("the image lacks %s", want)
		}
	}
	if !strings.Contains(string(files["etc/passwd"].body), "portico:x:65532:65532:") {
		t.Errorf("/etc/passwd = %q", files["etc/passwd"].body)
	}
	h, ok := files[home[1:]+"/"]
	if !ok {
		h = files[home[1:]]
	}
	if h.hdr == nil || h.hdr.Uid != uid || h.hdr.Typeflag != tar.TypeDir {
		t.Errorf("the home folder is missing or not the user's: %+v", h.hdr)
	}

	// Its binary, as the image holds it: static, and it runs.
	bin := filepath.Join(t.TempDir(), "portico")
	if err := os.WriteFile(bin, files[binPath[1:]].body, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the binary is dynamically linked (it has an ELF interpreter)")
		}
	}
	f.Close()
	if out, err := exec.Command(bin, "version").CombinedOutput(); err != nil || !strings.Contains(string(out), "v0.0.0-test") {
		t.Errorf("portico version = %q (%v)", out, err)
	}
	if out, err := exec.Command(bin, "catalog", "lint", filepath.Join(s.root, "catalog")).CombinedOutput(); err != nil {
		t.Errorf("portico catalog lint of the demo catalog from the image's binary: %v\n%s", err, out)
	}
}

type entry struct {
	hdr  *tar.Header
	body []byte
}

// unpack reads the image's flattened filesystem.
func unpack(t *testing.T, img v1.Image) map[string]entry {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	out := map[string]entry{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out[strings.TrimPrefix(h.Name, "/")] = entry{hdr: h, body: b}
	}
}
