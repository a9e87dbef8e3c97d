package download

import (
	"os"
	"syscall"
)

// startWriteback asks the kernel to start writing a range of f to disk
// now, without waiting (sync_file_range with SYNC_FILE_RANGE_WRITE): the
// final fsync of a large video then finds most of it written already.
// Errors are ignored; the final fsync reports any that matter.
func startWriteback(f *os.File, off, n int64) {
	const syncFileRangeWrite = 0x2
	if rc, err := f.SyscallConn(); err == nil {
		rc.Control(func(fd uintptr) { _ = syscall.SyncFileRange(int(fd), off, n, syncFileRangeWrite) })
	}
}

// diskFree is the space left to an unprivileged user on f's filesystem.
// It asks through the open file, so it measures where the video is
// written, whatever symlinks say.
func diskFree(f *os.File) (int64, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return 0, err
	}
	var st syscall.Statfs_t
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = syscall.Fstatfs(int(fd), &st) }); err != nil {
		return 0, err
	}
	return int64(st.Bavail) * int64(st.Bsize), serr
}
