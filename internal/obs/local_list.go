package obs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"unicode/utf8"
)

// listBucket walks the bucket's directory tree in key order. Each directory's
// entries are sorted with directories compared as name+"/", which makes a
// depth-first walk produce keys in byte order ("a.txt" < "a/b" because
// '.' < '/'). Subtrees that cannot hold an entry after StartAfter or under
// Prefix are skipped without reading them, so paging through a large bucket
// costs about one directory read per level per page, not a walk of
// everything before the page. With the "/" delimiter a subdirectory is one
// common prefix, reported only if some object lies beneath it (S3 has no
// empty directories).
//
// A directory is read whole and sorted in memory, so one huge flat
// directory costs memory in proportion to its number of names.
func listBucket(ctx context.Context, br *os.Root, bucket string, opts ListOptions) (ListPage, error) {
	for _, s := range []string{opts.Prefix, opts.StartAfter, opts.Delimiter} {
		if !utf8.ValidString(s) || len(s) > MaxKeyLen {
			return ListPage{}, fmt.Errorf("list option %q is not UTF-8 of at most %d bytes: %w", s, MaxKeyLen, ErrInvalidKey)
		}
	}
	if opts.MaxKeys <= 0 || opts.MaxKeys > DefaultMaxKeys {
		opts.MaxKeys = DefaultMaxKeys
	}
	w := &walker{ctx: ctx, br: br, mr: openMeta(br), bucket: bucket, opts: opts}
	if w.mr != nil {
		defer w.mr.Close()
	}
	if err := w.walk(""); err != nil {
		return ListPage{}, err
	}
	return w.page, nil
}

type walker struct {
	ctx    context.Context
	br     *os.Root // the bucket
	mr     *os.Root // its metadata, or nil
	bucket string
	opts   ListOptions

	page   ListPage
	n      int    // entries in page
	last   string // greatest entry in page
	lastCP string
	done   bool
}

type dirEntry struct {
	fs.DirEntry
	sortKey string // name, or name+"/" for a directory
}

// walk lists the directory whose key prefix is dir ("" for the bucket,
// otherwise ending in "/").
func (w *walker) walk(dir string) error {
	if err := w.ctx.Err(); err != nil {
		return err
	}
	dr, entries, err := w.readDir(dir)
	if err != nil || dr == nil {
		return err
	}
	if dr != w.br {
		defer dr.Close()
	}
	p, sa := w.opts.Prefix, w.opts.StartAfter
	for _, e := range entries {
		if w.done {
			return nil
		}
		if e.IsDir() {
			k := dir + e.sortKey
			under := strings.HasPrefix(k, p)
			if !under && !strings.HasPrefix(p, k) {
				continue // disjoint from Prefix
			}
			if k <= sa && !strings.HasPrefix(sa, k) {
				continue // everything under k sorts before StartAfter
			}
			if under && w.opts.Delimiter == "/" && len(k) > len(p) {
				// k is a common prefix: its keys roll up to it.
				if k > sa && w.lastCP != k {
					ok, err := w.hasObject(k)
					if err != nil {
						return err
					}
					if ok {
						w.addPrefix(k)
					}
				}
				continue
			}
			if err := w.walk(k); err != nil {
				return err
			}
			continue
		}
		key := dir + e.sortKey
		if !strings.HasPrefix(key, p) || key <= sa || ValidateObjectKey(key) != nil {
			continue
		}
		if d := w.opts.Delimiter; d != "" {
			if i := strings.Index(key[len(p):], d); i >= 0 {
				cp := key[:len(p)+i+len(d)]
				if cp > sa && cp != w.lastCP {
					if _, ok := w.resolve(dr, key, e); ok {
						w.addPrefix(cp)
					}
				}
				continue
			}
		}
		if fi, ok := w.resolve(dr, key, e); ok {
			w.add(key, info(w.mr, w.bucket, key, fi))
		}
	}
	return nil
}

// readDir opens dir and returns it and its listable entries in key order;
// a nil root if dir no longer exists. Entries are then looked up relative to
// the directory, which saves resolving the whole key each time.
func (w *walker) readDir(dir string) (*os.Root, []dirEntry, error) {
	dr := w.br
	if dir != "" {
		var err error
		if dr, err = w.br.OpenRoot(openName(dir)); err != nil {
			if errors.Is(notFound(err), ErrNotFound) {
				return nil, nil, nil // removed meanwhile
			}
			return nil, nil, err
		}
	}
	fail := func(err error) (*os.Root, []dirEntry, error) {
		if dr != w.br {
			dr.Close()
		}
		return nil, nil, err
	}
	f, err := dr.Open(".")
	if err != nil {
		return fail(err)
	}
	des, err := f.ReadDir(-1)
	f.Close()
	if err != nil {
		return fail(err)
	}
	entries := make([]dirEntry, 0, len(des))
	for _, de := range des {
		name := de.Name()
		if dir == "" && name == sysDir {
			continue
		}
		e := dirEntry{DirEntry: de, sortKey: name}
		if de.IsDir() {
			e.sortKey += "/"
		}
		// Names that are not valid key segments (a backslash, invalid
		// UTF-8, a control character) cannot be addressed: skip them.
		if ValidateKey(dir+e.sortKey) != nil {
			continue
		}
		entries = append(entries, e)
	}
	slices.SortFunc(entries, func(a, b dirEntry) int { return strings.Compare(a.sortKey, b.sortKey) })
	return dr, entries, nil
}

// resolve returns the FileInfo of the object a non-directory entry e of
// directory dr is: a regular file, or a link that resolves, inside the
// bucket, to one. key is e's key.
func (w *walker) resolve(dr *os.Root, key string, e fs.DirEntry) (fs.FileInfo, bool) {
	var fi fs.FileInfo
	var err error
	switch t := e.Type(); {
	case t.IsRegular():
		fi, err = dr.Lstat(e.Name())
	case t&fs.ModeSymlink != 0:
		fi, err = w.br.Stat(key)
	default:
		return nil, false // device, FIFO, socket
	}
	if err != nil || !fi.Mode().IsRegular() {
		return nil, false
	}
	return fi, true
}

// hasObject reports whether some object lies under the directory dir.
func (w *walker) hasObject(dir string) (bool, error) {
	if err := w.ctx.Err(); err != nil {
		return false, err
	}
	dr, err := w.br.OpenRoot(openName(dir))
	if err != nil {
		if errors.Is(notFound(err), ErrNotFound) {
			return false, nil
		}
		return false, err
	}
	defer dr.Close()
	f, err := dr.Open(".")
	if err != nil {
		return false, err
	}
	defer f.Close()
	var subdirs []string
	for {
		des, err := f.ReadDir(256)
		for _, de := range des {
			key := dir + de.Name()
			if de.IsDir() {
				if ValidateKey(key+"/") == nil {
					subdirs = append(subdirs, key+"/")
				}
				continue
			}
			if ValidateObjectKey(key) != nil {
				continue
			}
			if _, ok := w.resolve(dr, key, de); ok {
				return true, nil
			}
		}
		if err == io.EOF || len(des) == 0 {
			break
		}
		if err != nil {
			return false, err
		}
	}
	for _, sub := range subdirs {
		if ok, err := w.hasObject(sub); ok || err != nil {
			return ok, err
		}
	}
	return false, nil
}

func (w *walker) add(key string, info ObjectInfo) {
	if w.full() {
		return
	}
	w.page.Objects = append(w.page.Objects, info)
	w.n++
	w.last = key
}

func (w *walker) addPrefix(cp string) {
	if w.full() {
		return
	}
	w.page.CommonPrefixes = append(w.page.CommonPrefixes, cp)
	w.n++
	w.last = cp
	w.lastCP = cp
}

// full reports whether the page is full, and if so marks it truncated: it
// is only asked when another entry is found.
func (w *walker) full() bool {
	if w.n < w.opts.MaxKeys {
		return false
	}
	w.page.Truncated = true
	w.page.NextStartAfter = w.last
	w.done = true
	return true
}

// openName turns a key prefix ("" or "a/b/") into a name os.Root opens.
func openName(dir string) string {
	if dir == "" {
		return "."
	}
	return strings.TrimSuffix(dir, "/")
}
