//go:build unix

package cli

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/prism-wait/prism-wait/internal/download"
)

func TestOwner(t *testing.T) {
	t.Parallel()
	if owner(filepath.Join(t.TempDir(), "missing")) != nil {
		t.Error("a missing workspace has an owner")
	}
	if os.Geteuid() != 0 {
		if owner(t.TempDir()) != nil {
			t.Error("not root: files need no new owner")
		}
		return
	}
	for _, tc := range []struct {
		uid, gid int
		want     *download.Owner
	}{
		{0, 0, nil},
		{1001, 0, &download.Owner{UID: 1001, GID: 0}},
		{0, 1002, &download.Owner{UID: 0, GID: 1002}},
		{1001, 1002, &download.Owner{UID: 1001, GID: 1002}},
	} {
		ws := t.TempDir()
		if err := os.Chown(ws, tc.uid, tc.gid); err != nil {
			t.Skipf("cannot chown as root here: %v", err)
		}
		got := owner(ws)
		if (got == nil) != (tc.want == nil) || (got != nil && *got != *tc.want) {
			t.Errorf("owner of %d:%d = %+v, want %+v", tc.uid, tc.gid, got, tc.want)
		}
	}
}
