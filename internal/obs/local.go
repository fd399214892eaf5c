package obs

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Local is the embedded Store: a directory in which bucket B is the
// subdirectory B and the object with key K is the file B/K. Users may drop
// files into a bucket directory by hand (mkdir DATA_DIR/obs/my-bucket/images
// and copy pictures there) and point a dataset at obs://my-bucket/images/;
// any subdirectory of the root whose name is a valid bucket name is a bucket.
//
// Each bucket has a hidden directory ".atelier" that holds staging files for
// Put and object metadata; it never appears in List, and keys whose first
// segment is ".atelier" are refused.
//
// Layout rules that a filesystem imposes and S3 does not:
//   - "a" and "a/b" cannot both be objects; Put returns ErrKeyConflict.
//   - A key segment is at most 255 bytes (ErrInvalidKey).
//   - Empty directories are not objects and do not show in List; Delete
//     removes the directories it leaves empty, up to the bucket.
//
// Symbolic links are resolved inside the bucket only (through os.Root): a
// link that leads out of its bucket, even into another bucket, is never
// followed, and the object behind it does not exist (ErrNotFound, absent
// from List). A link to a file inside the bucket is an object. List does not
// descend into directories reached through links, to stay free of cycles.
// A bucket directory that is itself a symbolic link is not a bucket; mount
// other storage there (a bind mount) instead.
//
// ETag: Put computes the hex MD5 of the content while streaming and records
// it, with the content type, in .atelier/meta under the file's identity
// (inode, size, modification time). A file that Put did not write (dropped in
// by hand, or changed since) has no record; its ETag is then the hex MD5 of
// its size and modification time followed by "-1" (so, like S3 multipart
// ETags, it is marked as not being a content MD5) and its content type is
// guessed from its extension. Hashing such files on demand would make a Head
// cost a full read and would change their ETag on first read.
type Local struct {
	root   *os.Root
	signer *URLSigner
	// locks serialise the final step of Put and Delete per key, so that the
	// metadata record matches the file that wins.
	locks [64]sync.Mutex
}

var (
	_ Store      = (*Local)(nil)
	_ KeyChecker = (*Local)(nil)
)

const (
	sysDir      = ".atelier" // per bucket, hidden from List
	tmpDir      = sysDir + "/tmp"
	metaDir     = sysDir + "/meta"
	createdFile = sysDir + "/created"

	// stagingMaxAge is how old a staging file left by a crashed Put must
	// be before NewLocal removes it.
	stagingMaxAge = 24 * time.Hour
	copyBufSize   = 256 << 10
	maxNameLen    = 255 // bytes in one path segment, the common filesystem limit
)

// NewLocal opens (creating it if needed) a local store rooted at root.
// signer makes the URLs of PresignGet; it may be nil, and PresignGet then
// fails with errors.ErrUnsupported. Staging files older than a day, left by
// an interrupted Put, are removed.
func NewLocal(root string, signer *URLSigner) (*Local, error) {
	if err := os.MkdirAll(root, dirMode); err != nil {
		return nil, fmt.Errorf("open local object store: %w", err)
	}
	// A store made by an older version (or by hand) was open to others.
	if err := os.Chmod(root, dirMode); err != nil {
		return nil, fmt.Errorf("open local object store: %w", err)
	}
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, fmt.Errorf("open local object store: %w", err)
	}
	l := &Local{root: r, signer: signer}
	l.sweepStaging(time.Now().Add(-stagingMaxAge))
	return l, nil
}

// Close releases the store's handle on its root directory.
func (l *Local) Close() error { return l.root.Close() }

// HeadBucket implements Store.
func (l *Local) HeadBucket(ctx context.Context, bucket string) (err error) {
	defer wrap(&err, "head bucket %q", bucket)
	br, err := l.openBucket(ctx, bucket)
	if err != nil {
		return err
	}
	return br.Close()
}

// CreateBucket implements Store.
func (l *Local) CreateBucket(ctx context.Context, bucket string) (err error) {
	defer wrap(&err, "create bucket %q", bucket)
	if err := ValidateBucketName(bucket); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := l.root.Mkdir(bucket, dirMode); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return ErrBucketExists
		}
		return err
	}
	if err := l.root.Chmod(bucket, dirMode); err != nil {
		return err
	}
	br, err := l.root.OpenRoot(bucket)
	if err != nil {
		return err
	}
	defer br.Close()
	if err := mkdirAll(br, sysDir); err != nil {
		return err
	}
	stamp := time.Now().UTC().Format(time.RFC3339Nano)
	return writeFile(br, createdFile, []byte(stamp))
}

// DeleteBucket implements Store. Besides objects, a bucket may hold things
// that are not objects (empty directories, links leading out, files with
// names that are not valid keys): empty directories are removed with the
// bucket, anything else makes it ErrBucketNotEmpty, since deleting files a
// user cannot list would be a surprise.
func (l *Local) DeleteBucket(ctx context.Context, bucket string) (err error) {
	defer wrap(&err, "delete bucket %q", bucket)
	br, err := l.openBucket(ctx, bucket)
	if err != nil {
		return err
	}
	defer br.Close()
	page, err := listBucket(ctx, br, bucket, ListOptions{MaxKeys: 1})
	if err != nil {
		return err
	}
	if len(page.Objects) > 0 {
		return ErrBucketNotEmpty
	}
	if err := br.RemoveAll(sysDir); err != nil {
		return err
	}
	removeEmptyDirs(br, ".")
	if err := l.root.Remove(bucket); err != nil {
		if errors.Is(err, fs.ErrExist) { // ENOTEMPTY
			return fmt.Errorf("%w: it holds files that are not objects", ErrBucketNotEmpty)
		}
		return err
	}
	return nil
}

// removeEmptyDirs removes the empty directories under dir, depth first,
// without following links.
func removeEmptyDirs(br *os.Root, dir string) {
	f, err := br.Open(dir)
	if err != nil {
		return
	}
	entries, _ := f.ReadDir(-1)
	f.Close()
	for _, e := range entries {
		if e.IsDir() {
			sub := path.Join(dir, e.Name())
			removeEmptyDirs(br, sub)
			br.Remove(sub) // fails, as it should, when not empty
		}
	}
}

// ListBuckets implements Store. CreatedAt is the time CreateBucket made the
// bucket, or the directory's modification time for a directory made by hand.
func (l *Local) ListBuckets(ctx context.Context) (_ []BucketInfo, err error) {
	defer wrap(&err, "list buckets")
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := l.root.Open(".")
	if err != nil {
		return nil, err
	}
	entries, err := f.ReadDir(-1)
	f.Close()
	if err != nil {
		return nil, err
	}
	var out []BucketInfo
	for _, e := range entries {
		if !e.IsDir() || ValidateBucketName(e.Name()) != nil {
			continue
		}
		b := BucketInfo{Name: e.Name()}
		if stamp, err := l.root.ReadFile(e.Name() + "/" + createdFile); err == nil {
			b.CreatedAt, _ = time.Parse(time.RFC3339Nano, string(stamp))
		}
		if b.CreatedAt.IsZero() {
			fi, err := l.root.Lstat(e.Name())
			if err != nil {
				continue // removed meanwhile
			}
			b.CreatedAt = fi.ModTime()
		}
		out = append(out, b)
	}
	slices.SortFunc(out, func(a, b BucketInfo) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Head implements Store.
func (l *Local) Head(ctx context.Context, bucket, key string) (_ ObjectInfo, err error) {
	defer wrap(&err, "head %q", location(bucket, key))
	br, err := l.openObject(ctx, bucket, key)
	if err != nil {
		return ObjectInfo{}, err
	}
	defer br.Close()
	fi, err := br.Stat(key)
	if err != nil {
		return ObjectInfo{}, notFound(err)
	}
	if !fi.Mode().IsRegular() {
		return ObjectInfo{}, ErrNotFound
	}
	mr := openMeta(br)
	if mr != nil {
		defer mr.Close()
	}
	return info(mr, bucket, key, fi), nil
}

// Get implements Store.
func (l *Local) Get(ctx context.Context, bucket, key string, rng *Range) (_ io.ReadCloser, _ ObjectInfo, err error) {
	defer wrap(&err, "get %q", location(bucket, key))
	br, err := l.openObject(ctx, bucket, key)
	if err != nil {
		return nil, ObjectInfo{}, err
	}
	defer br.Close()
	// Stat before opening: opening a FIFO dropped into the bucket would
	// block until a writer appears.
	if fi, err := br.Stat(key); err != nil {
		return nil, ObjectInfo{}, notFound(err)
	} else if !fi.Mode().IsRegular() {
		return nil, ObjectInfo{}, ErrNotFound
	}
	f, err := br.Open(key)
	if err != nil {
		return nil, ObjectInfo{}, notFound(err)
	}
	// The open file's own identity decides the metadata, so the ETag is
	// that of the bytes read even if a Put replaces the key meanwhile.
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, ObjectInfo{}, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, ObjectInfo{}, ErrNotFound
	}
	mr := openMeta(br)
	if mr != nil {
		defer mr.Close()
	}
	oi := info(mr, bucket, key, fi)
	if rng == nil {
		return f, oi, nil
	}
	n, err := rng.Resolve(fi.Size())
	if err != nil {
		f.Close()
		return nil, ObjectInfo{}, err
	}
	if _, err := f.Seek(rng.Offset, io.SeekStart); err != nil {
		f.Close()
		return nil, ObjectInfo{}, err
	}
	return rangeReader{io.LimitReader(f, n), f}, oi, nil
}

type rangeReader struct {
	io.Reader
	io.Closer
}

// Put implements Store: the content is streamed into a staging file in the
// bucket's .atelier/tmp, synced, and renamed over the key.
func (l *Local) Put(ctx context.Context, bucket, key string, r io.Reader, opts PutOptions) (_ ObjectInfo, err error) {
	defer wrap(&err, "put %q", location(bucket, key))
	br, err := l.openObject(ctx, bucket, key)
	if err != nil {
		return ObjectInfo{}, err
	}
	defer br.Close()
	if err := mkdirAll(br, tmpDir); err != nil {
		return ObjectInfo{}, err
	}
	tmp := tmpDir + "/put-" + rand.Text()
	f, err := createFile(br, tmp)
	if err != nil {
		return ObjectInfo{}, err
	}
	committed := false
	defer func() {
		if !committed {
			f.Close()
			br.Remove(tmp)
		}
	}()

	h := md5.New()
	n, err := io.CopyBuffer(io.MultiWriter(f, h), ctxReader{ctx, r}, make([]byte, copyBufSize))
	if err != nil {
		return ObjectInfo{}, fmt.Errorf("write content: %w", err)
	}
	if err := f.Sync(); err != nil {
		return ObjectInfo{}, err
	}
	fi, err := f.Stat()
	if err != nil {
		return ObjectInfo{}, err
	}
	if err := f.Close(); err != nil {
		return ObjectInfo{}, err
	}
	if err := ctx.Err(); err != nil {
		return ObjectInfo{}, err
	}
	m := meta{Key: key, ETag: hex.EncodeToString(h.Sum(nil)), ContentType: opts.ContentType}
	if m.ContentType == "" {
		m.ContentType = DefaultContentType(key)
	}
	if err := l.commit(br, bucket, tmp, key, fi, m); err != nil {
		return ObjectInfo{}, err
	}
	committed = true
	return ObjectInfo{
		Bucket:      bucket,
		Key:         key,
		Size:        n,
		ModTime:     fi.ModTime(),
		ETag:        m.ETag,
		ContentType: m.ContentType,
	}, nil
}

// commit records the metadata of the staged file tmp (whose FileInfo is fi)
// and renames it to key. The record is written first and is keyed by the
// file's identity, so no reader ever pairs a file with another's record.
func (l *Local) commit(br *os.Root, bucket, tmp, key string, fi fs.FileInfo, m meta) error {
	unlock := l.lock(bucket, key)
	defer unlock()
	if err := writeMeta(br, key, fi, m); err != nil {
		return err
	}
	var old fs.FileInfo
	if fi, err := br.Lstat(key); err == nil && fi.Mode().IsRegular() {
		old = fi
	}
	for attempt := 0; ; attempt++ {
		err := l.rename(br, tmp, key)
		if err == nil {
			break
		}
		// A Delete may have pruned the parent directory between MkdirAll
		// and Rename; try again a few times.
		if !errors.Is(err, fs.ErrNotExist) || attempt == 3 {
			removeMeta(br, key, fi)
			return err
		}
	}
	if old != nil {
		removeMeta(br, key, old)
	}
	return nil
}

func (l *Local) rename(br *os.Root, tmp, key string) error {
	if dir := path.Dir(key); dir != "." {
		if err := mkdirAll(br, dir); err != nil {
			if errors.Is(err, syscall.ENOTDIR) || errors.Is(err, fs.ErrExist) || isEscape(err) {
				return fmt.Errorf("%w: a parent of the key is an object, or a link out of the bucket", ErrKeyConflict)
			}
			return err
		}
	}
	if err := br.Rename(tmp, key); err != nil {
		if errors.Is(err, syscall.EISDIR) || errors.Is(err, fs.ErrExist) || errors.Is(err, syscall.ENOTDIR) || isEscape(err) {
			return fmt.Errorf("%w: objects exist under %q", ErrKeyConflict, key+"/")
		}
		return err
	}
	return nil
}

// Delete implements Store. It removes the file (a link itself, not its
// target) and then each parent directory it left empty, up to the bucket.
func (l *Local) Delete(ctx context.Context, bucket, key string) (err error) {
	defer wrap(&err, "delete %q", location(bucket, key))
	br, err := l.openObject(ctx, bucket, key)
	if err != nil {
		return err
	}
	defer br.Close()
	unlock := l.lock(bucket, key)
	defer unlock()
	fi, err := br.Lstat(key)
	if err != nil {
		if errors.Is(notFound(err), ErrNotFound) {
			return nil
		}
		return err
	}
	if fi.IsDir() {
		return nil // a prefix, not an object
	}
	if err := br.Remove(key); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if fi.Mode().IsRegular() {
		removeMeta(br, key, fi)
	}
	for dir := path.Dir(key); dir != "."; dir = path.Dir(dir) {
		// Lstat so that a link to a directory is never removed in place
		// of the directory.
		if fi, err := br.Lstat(dir); err != nil || !fi.IsDir() {
			break
		}
		if br.Remove(dir) != nil {
			break // not empty
		}
	}
	return nil
}

// List implements Store.
func (l *Local) List(ctx context.Context, bucket string, opts ListOptions) (_ ListPage, err error) {
	defer wrap(&err, "list %q", location(bucket, opts.Prefix))
	br, err := l.openBucket(ctx, bucket)
	if err != nil {
		return ListPage{}, err
	}
	defer br.Close()
	return listBucket(ctx, br, bucket, opts)
}

// PresignGet implements Store with the store's URLSigner; the URLs are
// served by PresignHandler.
func (l *Local) PresignGet(ctx context.Context, bucket, key string, expires time.Duration) (_ string, err error) {
	defer wrap(&err, "presign %q", location(bucket, key))
	if err := ValidateBucketName(bucket); err != nil {
		return "", err
	}
	if err := l.checkKey(key); err != nil {
		return "", err
	}
	if err := checkExpiry(expires); err != nil {
		return "", err
	}
	if l.signer == nil {
		return "", fmt.Errorf("no URL signer configured: %w", errors.ErrUnsupported)
	}
	return l.signer.Sign(bucket, key, expires), nil
}

// openBucket validates bucket and opens its directory as a root that no
// path can leave.
func (l *Local) openBucket(ctx context.Context, bucket string) (*os.Root, error) {
	if err := ValidateBucketName(bucket); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	fi, err := l.root.Lstat(bucket)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, ErrBucketNotFound
		}
		return nil, err
	}
	if !fi.IsDir() {
		return nil, ErrBucketNotFound
	}
	br, err := l.root.OpenRoot(bucket)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, ErrBucketNotFound
		}
		return nil, err
	}
	return br, nil
}

// openObject validates bucket and key and opens the bucket.
func (l *Local) openObject(ctx context.Context, bucket, key string) (*os.Root, error) {
	if err := ValidateBucketName(bucket); err != nil {
		return nil, err
	}
	if err := l.checkKey(key); err != nil {
		return nil, err
	}
	return l.openBucket(ctx, bucket)
}

// CheckObjectKey implements KeyChecker: the local store's rules.
func (l *Local) CheckObjectKey(key string) error { return l.checkKey(key) }

// checkKey validates an object key, with the local store's extra rules.
func (l *Local) checkKey(key string) error {
	if err := ValidateObjectKey(key); err != nil {
		return err
	}
	// Segment by segment without splitting: imports check every line's
	// key here.
	for i, rest := 0, key; ; i++ {
		seg, after, more := strings.Cut(rest, "/")
		if i == 0 && seg == sysDir {
			return fmt.Errorf("key %q: %q is reserved by the local store: %w", key, sysDir+"/", ErrInvalidKey)
		}
		if len(seg) > maxNameLen {
			return fmt.Errorf("key %q: a segment is longer than %d bytes, the local filesystem limit: %w", key, maxNameLen, ErrInvalidKey)
		}
		if !more {
			return nil
		}
		rest = after
	}
}

// lock takes the per-key lock (striped) and returns its unlock.
func (l *Local) lock(bucket, key string) func() {
	h := fnv.New32a()
	h.Write([]byte(bucket))
	h.Write([]byte{0})
	h.Write([]byte(key))
	m := &l.locks[h.Sum32()%uint32(len(l.locks))]
	m.Lock()
	return m.Unlock
}

// info describes the object key whose file has FileInfo fi; mr is the
// bucket's metadata directory (see openMeta).
func info(mr *os.Root, bucket, key string, fi fs.FileInfo) ObjectInfo {
	oi := ObjectInfo{Bucket: bucket, Key: key, Size: fi.Size(), ModTime: fi.ModTime()}
	if m, ok := readMeta(mr, key, fi); ok {
		oi.ETag, oi.ContentType = m.ETag, m.ContentType
	} else {
		oi.ETag, oi.ContentType = derivedETag(fi), DefaultContentType(key)
	}
	return oi
}

// derivedETag is the ETag of a file that Put did not write. See Local.
func derivedETag(fi fs.FileInfo) string {
	sum := md5.Sum(fmt.Appendf(nil, "%d:%d", fi.Size(), fi.ModTime().UnixNano()))
	return hex.EncodeToString(sum[:]) + "-1"
}

// sweepStaging removes staging files last written before cutoff.
func (l *Local) sweepStaging(cutoff time.Time) {
	buckets, err := l.ListBuckets(context.Background())
	if err != nil {
		return
	}
	for _, b := range buckets {
		f, err := l.root.Open(b.Name + "/" + tmpDir)
		if err != nil {
			continue
		}
		entries, _ := f.ReadDir(-1)
		f.Close()
		for _, e := range entries {
			if fi, err := e.Info(); err == nil && fi.Mode().IsRegular() && fi.ModTime().Before(cutoff) {
				l.root.Remove(b.Name + "/" + tmpDir + "/" + e.Name())
			}
		}
	}
}

// notFound maps the errors that mean "no object at this path" to
// ErrNotFound and passes others through.
func notFound(err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist),
		errors.Is(err, syscall.ENOTDIR), // a parent is a file
		errors.Is(err, syscall.ELOOP),   // a link cycle
		errors.Is(err, syscall.ENAMETOOLONG),
		isEscape(err):
		return ErrNotFound
	}
	return err
}

// isEscape reports whether err is os.Root refusing a path that leads out of
// the root through a link. os does not export that error, only its text;
// TestLocalSymlinkOutOfBucket fails if the text changes.
func isEscape(err error) bool {
	for ; err != nil; err = errors.Unwrap(err) {
		if err.Error() == "path escapes from parent" {
			return true
		}
	}
	return false
}

// location formats bucket and key for error messages.
func location(bucket, key string) string { return "obs://" + bucket + "/" + key }

// wrap adds context to *errp, if it is an error.
func wrap(errp *error, format string, args ...any) {
	if *errp != nil {
		*errp = fmt.Errorf(format+": %w", append(args, *errp)...)
	}
}
