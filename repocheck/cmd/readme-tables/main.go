// Command readme-tables writes the README's input and output tables from
// action.yml, between their markers. Run it from anywhere inside the
// repository after changing action.yml:
//
//	go run ./repocheck/cmd/readme-tables
package main

import (
	"fmt"
	"os"

	"github.com/prism-wait/prism-wait/repocheck"
)

func main() {
	if len(os.Args) > 1 {
		fmt.Fprintln(os.Stderr, "usage: go run ./repocheck/cmd/readme-tables (no arguments: it finds README.md and action.yml from the working directory up)")
		os.Exit(2)
	}
	root, err := repocheck.FindRoot(".")
	if err == nil {
		var changed bool
		if changed, err = repocheck.UpdateReadme(root); err == nil {
			if changed {
				fmt.Println("README.md: tables written from action.yml")
			} else {
				fmt.Println("README.md: tables already match action.yml")
			}
			return
		}
	}
	fmt.Fprintln(os.Stderr, "readme-tables:", err)
	os.Exit(1)
}
