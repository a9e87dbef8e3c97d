// Package repocheck holds the checks of the repository itself, as opposed
// to the program: the Markdown files' workflow examples (actionlint, no
// step or job output pasted into a run: script), the README's input and
// output tables against action.yml, links between the docs, and the
// release machinery (.github/workflows, .goreleaser.yaml). It also makes
// the README's tables: see UpdateReadme and cmd/readme-tables.
package repocheck

import (
	"fmt"
	"os"
	"path/filepath"
)

// FindRoot returns the repository's root: dir or the nearest folder above
// it that holds go.mod and action.yml.
func FindRoot(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := dir; ; {
		_, errMod := os.Stat(filepath.Join(d, "go.mod"))
		_, errAction := os.Stat(filepath.Join(d, "action.yml"))
		if errMod == nil && errAction == nil {
			return d, nil
		}
		up := filepath.Dir(d)
		if up == d {
			return "", fmt.Errorf("no folder from %s up holds go.mod and action.yml: run this inside the prism-wait repository: %w", dir, os.ErrNotExist)
		}
		d = up
	}
}
