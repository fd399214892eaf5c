package obs

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"syscall"
)

// The local store is private to the server's user: objects are tenants'
// data, readable by others only through the API and its authorization.
// Modes are set explicitly after creating, never left to the umask, so a
// permissive umask (0000, 0002) cannot open them up.
const (
	dirMode  fs.FileMode = 0o700
	fileMode fs.FileMode = 0o600
)

// mkdirAll is os.Root.MkdirAll with private modes: each directory it
// creates gets dirMode whatever the umask; existing ones are left alone.
// Its errors are MkdirAll's (ENOTDIR or EEXIST when a parent is a file, an
// escape error for a link leading out of the root).
func mkdirAll(r *os.Root, dir string) error {
	if fi, err := r.Stat(dir); err == nil {
		if fi.IsDir() {
			return nil
		}
		return &fs.PathError{Op: "mkdir", Path: dir, Err: syscall.ENOTDIR}
	}
	if parent := path.Dir(dir); parent != "." && parent != "/" {
		if err := mkdirAll(r, parent); err != nil {
			return err
		}
	}
	if err := r.Mkdir(dir, dirMode); err != nil {
		// Another Put may have made it since the Stat.
		if fi, serr := r.Stat(dir); errors.Is(err, fs.ErrExist) && serr == nil && fi.IsDir() {
			return nil
		}
		return err
	}
	return r.Chmod(dir, dirMode)
}

// createFile creates name exclusively with fileMode whatever the umask.
func createFile(r *os.Root, name string) (*os.File, error) {
	f, err := r.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fileMode)
	if err != nil {
		return nil, err
	}
	if err := f.Chmod(fileMode); err != nil {
		f.Close()
		r.Remove(name)
		return nil, err
	}
	return f, nil
}

// writeFile is os.Root.WriteFile with fileMode whatever the umask.
func writeFile(r *os.Root, name string, data []byte) error {
	f, err := r.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, fileMode)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Chmod(fileMode); err == nil {
		err = cerr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
