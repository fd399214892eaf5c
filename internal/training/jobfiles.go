package training

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"syscall"
)

// A job's code writes in its outputs (and could, were the sandbox off, in
// the rest of its directory), and the server reads those files back with
// its own rights after the job: to upload outputs, export and show logs. A
// symbolic link planted there ("outputs/model/x -> /data/atelier.db", or
// "outputs -> /data") would make the server upload or show a file the job
// could never read itself, and a hard link would do the same to a file the
// job could name. So every such read opens each path component with
// O_NOFOLLOW from the job directory down, accepts only regular files with
// a single link, and reports what it skipped.

// openFlags are the flags every job file is opened with: no symbolic link
// followed, and no blocking on a FIFO the job left.
const openFlags = syscall.O_RDONLY | syscall.O_NOFOLLOW | syscall.O_CLOEXEC | syscall.O_NONBLOCK

// errUnsafeFile reports a job file the server refuses to read.
var errUnsafeFile = errors.New("not a regular file of the job")

// openJobPath opens rel (slash-separated, below the trusted directory root)
// without following a symbolic link in any of its components.
func openJobPath(root, rel string, dir bool) (*os.File, error) {
	fd, err := syscall.Open(root, openFlags|syscall.O_DIRECTORY, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: root, Err: err}
	}
	parts := strings.Split(strings.Trim(rel, "/"), "/")
	for i, p := range parts {
		if p == "" || p == "." || p == ".." {
			syscall.Close(fd)
			return nil, fmt.Errorf("open %s: invalid component %q", rel, p)
		}
		flags := openFlags
		if dir || i < len(parts)-1 {
			flags |= syscall.O_DIRECTORY
		}
		next, err := syscall.Openat(fd, p, flags, 0)
		syscall.Close(fd)
		if err != nil {
			if errors.Is(err, syscall.ELOOP) || errors.Is(err, syscall.ENOTDIR) {
				return nil, fmt.Errorf("open %s: %s is a symbolic link or not a directory: %w", rel, path.Join(parts[:i+1]...), errUnsafeFile)
			}
			return nil, &fs.PathError{Op: "open", Path: path.Join(root, path.Join(parts[:i+1]...)), Err: err}
		}
		fd = next
	}
	f := os.NewFile(uintptr(fd), path.Join(root, rel))
	if !dir {
		if err := checkRegular(f); err != nil {
			f.Close()
			return nil, fmt.Errorf("open %s: %w", rel, err)
		}
	}
	return f, nil
}

// checkRegular accepts an opened regular file with one link.
func checkRegular(f *os.File) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s: %w", kind(fi.Mode().Type()), errUnsafeFile)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 {
		return fmt.Errorf("hard link: %w", errUnsafeFile)
	}
	return nil
}

// walkJobDir calls fn for every regular file under dir (opened with
// openJobPath from root), in name order, with its path relative to dir. It
// descends into directories but never through a symbolic link, and calls
// skip for every entry it refuses (a symbolic link, a hard link, a device,
// a FIFO, a socket) with the reason.
func walkJobDir(root, dir string, fn func(rel string, f *os.File) error, skip func(rel, why string)) error {
	d, err := openJobPath(root, dir, true)
	if err != nil {
		return err
	}
	return walkOpened(d, "", fn, skip)
}

func walkOpened(d *os.File, prefix string, fn func(rel string, f *os.File) error, skip func(rel, why string)) error {
	defer d.Close()
	ents, err := d.ReadDir(-1)
	if err != nil {
		return fmt.Errorf("list %s: %w", d.Name(), err)
	}
	slices.SortFunc(ents, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	dfd := int(d.Fd())
	for _, e := range ents {
		rel := path.Join(prefix, e.Name())
		switch t := e.Type(); {
		case t&fs.ModeSymlink != 0:
			skip(rel, "symbolic link")
		case t.IsDir():
			fd, err := syscall.Openat(dfd, e.Name(), openFlags|syscall.O_DIRECTORY, 0)
			if err != nil {
				skip(rel, "cannot open: "+err.Error())
				continue
			}
			if err := walkOpened(os.NewFile(uintptr(fd), path.Join(d.Name(), e.Name())), rel, fn, skip); err != nil {
				return err
			}
		case t.IsRegular():
			fd, err := syscall.Openat(dfd, e.Name(), openFlags, 0)
			if err != nil {
				skip(rel, "cannot open: "+err.Error())
				continue
			}
			f := os.NewFile(uintptr(fd), path.Join(d.Name(), e.Name()))
			if err := checkRegular(f); err != nil {
				f.Close()
				skip(rel, strings.TrimSuffix(err.Error(), ": "+errUnsafeFile.Error()))
				continue
			}
			err = fn(rel, f)
			f.Close()
			if err != nil {
				return err
			}
		default:
			skip(rel, kind(t))
		}
	}
	return nil
}

// kind names a file type for a message.
func kind(t fs.FileMode) string {
	switch {
	case t&fs.ModeSymlink != 0:
		return "symbolic link"
	case t&fs.ModeNamedPipe != 0:
		return "named pipe"
	case t&fs.ModeSocket != 0:
		return "socket"
	case t&fs.ModeCharDevice != 0:
		return "character device"
	case t&fs.ModeDevice != 0:
		return "device"
	case t.IsDir():
		return "directory"
	}
	return "irregular file"
}
