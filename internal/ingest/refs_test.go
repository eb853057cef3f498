package ingest

import "github.com/go-git/go-git/v5/plumbing"

func plumbingRef(name string, h plumbing.Hash) *plumbing.Reference {
	return plumbing.NewHashReference(plumbing.ReferenceName(name), h)
}
