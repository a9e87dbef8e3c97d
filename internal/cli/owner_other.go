//go:build !unix

package cli

import "github.com/prism-wait/prism-wait/internal/download"

// owner is nil where files have no numeric owners to hand over.
func owner(string) *download.Owner { return nil }
