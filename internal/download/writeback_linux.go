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
