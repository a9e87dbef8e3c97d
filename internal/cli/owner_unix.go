//go:build unix

package cli

import (
	"os"
	"syscall"

	"github.com/prism-wait/prism-wait/internal/download"
)

// owner is the workspace directory's owner, when files created as root
// should be handed to it: the runner runs the container as root, and root's
// files in the workspace break checkout and clean on self-hosted runners.
func owner(workspace string) *download.Owner {
	fi, err := os.Stat(workspace)
	if err != nil || os.Geteuid() != 0 {
		return nil
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || (st.Uid == 0 && st.Gid == 0) {
		return nil
	}
	return &download.Owner{UID: int(st.Uid), GID: int(st.Gid)}
}
