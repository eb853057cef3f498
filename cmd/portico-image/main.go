// Command portico-image builds Portico's container image without a Docker daemon
// (go-containerregistry): a static binary (CGO_ENABLED=0, time zones embedded), the CA
// certificates, a non-root user, no shell, and OCI labels naming the version and source. The
// same commit gives the same image, byte for byte: every file's time is the commit's time and
// the build is -trimpath. It writes an OCI image layout and a tarball `docker load` and
// `podman load` read.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

func main() {
	out := flag.String("out", "bin/image", "folder for the OCI layout (oci/) and the tarball (portico.tar)")
	version := flag.String("version", "", "version label and `portico version` (default: git describe)")
	tag := flag.String("tag", "portico:latest", "the tarball's image name")
	flag.Parse()
	ctx := context.Background()
	info, err := describe(ctx, *version)
	if err != nil {
		fmt.Fprintln(os.Stderr, "portico-image:", err)
		os.Exit(1)
	}
	img, err := build(ctx, info)
	if err == nil {
		var r written
		if r, err = write(img, *out, *tag); err == nil {
			fmt.Printf("image %s\n  digest %s\n  size %.1f MB compressed (%.1f MB unpacked)\n  OCI layout %s\n  tarball %s\n",
				*tag, r.digest, float64(r.compressed)/1e6, float64(r.unpacked)/1e6, r.layout, r.tarball)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "portico-image:", err)
		os.Exit(1)
	}
}

// source is what the image is built from and labelled with.
type source struct {
	root, version, revision, url string
	created                      time.Time // the commit's time: every file and the config carry it
}

// describe reads the repository: its root, version, commit and the commit's time.
func describe(ctx context.Context, version string) (source, error) {
	git := func(args ...string) (string, error) {
		out, err := exec.CommandContext(ctx, "git", args...).Output()
		return strings.TrimSpace(string(out)), err
	}
	root, err := git("rev-parse", "--show-toplevel")
	if err != nil {
		return source{}, fmt.Errorf("not in a git checkout: %w", err)
	}
	s := source{root: root, version: version, url: "https://github.com/portico-dev/portico"}
	if s.revision, err = git("rev-parse", "HEAD"); err != nil {
		return s, err
	}
	if s.version == "" {
		if s.version, err = git("describe", "--tags", "--always", "--dirty"); err != nil {
			return s, err
		}
	}
	ts, err := git("log", "-1", "--format=%ct")
	if err != nil {
		return s, err
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return s, err
	}
	s.created = time.Unix(sec, 0).UTC()
	return s, nil
}

// binary builds the static portal binary into dir.
func binary(ctx context.Context, s source, dir string) (string, error) {
	bin := filepath.Join(dir, "portico")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=false", "-tags", "timetzdata",
		"-ldflags", "-s -w -buildid= -X main.version="+s.version, "-o", bin, "./cmd/portico")
	cmd.Dir = s.root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
}
