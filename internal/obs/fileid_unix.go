//go:build unix

package obs

import (
	"io/fs"
	"syscall"
)

// fileID returns the inode number of the file fi describes, 0 if unknown.
// Renaming keeps it, so a staged file and the object it becomes share it.
func fileID(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Ino)
	}
	return 0
}
