package obs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"path"
	"time"
)

// Store is object storage. Buckets are flat names (ValidateBucketName);
// keys are object keys within a bucket ("images/a.jpg", see ValidateKey).
// Every method validates its bucket and key before doing any I/O and
// returns ErrInvalidBucket or ErrInvalidKey for a malformed one.
//
// Implementations are safe for concurrent use. Where the local and the
// S3-compatible implementations differ, the method comment says so.
type Store interface {
	// HeadBucket reports whether bucket exists: nil, ErrBucketNotFound, or
	// another error.
	HeadBucket(ctx context.Context, bucket string) error
	// CreateBucket creates an empty bucket. It is not idempotent: an
	// existing bucket yields ErrBucketExists, so callers that only need the
	// bucket to exist treat that error as success.
	CreateBucket(ctx context.Context, bucket string) error
	// DeleteBucket deletes an empty bucket; ErrBucketNotEmpty if it holds
	// any object, ErrBucketNotFound if it does not exist.
	DeleteBucket(ctx context.Context, bucket string) error
	// ListBuckets lists every bucket, sorted by name.
	ListBuckets(ctx context.Context) ([]BucketInfo, error)

	// Head returns an object's metadata; ErrNotFound if there is no such
	// object (also when the key names a "directory").
	Head(ctx context.Context, bucket, key string) (ObjectInfo, error)
	// List lists objects whose keys start with opts.Prefix, in ascending
	// byte order of key. See ListOptions for paging and delimiters.
	// ContentType may be empty in the listed ObjectInfo (S3 listings do
	// not carry it; the local store fills it in); the other fields are
	// those Head returns.
	List(ctx context.Context, bucket string, opts ListOptions) (ListPage, error)
	// Get opens an object for reading. rng nil reads the whole object;
	// otherwise see Range. The returned ObjectInfo describes the whole
	// object (Size is the object's size, not the range's length) and
	// matches the bytes read: a concurrent Put never mixes two versions.
	// The caller must close the reader.
	Get(ctx context.Context, bucket, key string, rng *Range) (io.ReadCloser, ObjectInfo, error)
	// Put stores an object, streaming r until EOF without buffering it
	// whole. It is atomic: readers see the previous object or the new one,
	// never a partial one, and a failed or cancelled Put leaves the
	// previous object in place. The returned ETag is the hex MD5 of the
	// content for the local store and for single-part S3 uploads.
	Put(ctx context.Context, bucket, key string, r io.Reader, opts PutOptions) (ObjectInfo, error)
	// Delete deletes an object. Deleting a key that does not exist is not
	// an error (S3 semantics); a missing bucket is ErrBucketNotFound.
	Delete(ctx context.Context, bucket, key string) error
	// PresignGet returns an absolute URL that lets anyone holding it GET
	// the object until expires has passed. It does not check that the
	// object exists. expires must be in (0, MaxPresignExpiry].
	PresignGet(ctx context.Context, bucket, key string, expires time.Duration) (string, error)
}

// ObjectInfo describes one object.
type ObjectInfo struct {
	Bucket string
	Key    string
	Size   int64
	// ModTime is the time the object was last written.
	ModTime time.Time
	// ETag identifies the object's content, unquoted. Like S3's, it is the
	// hex MD5 of the content when it contains no '-'; otherwise it is an
	// opaque version tag (S3 multipart uploads; files dropped into the
	// local store's directory without going through Put). It changes
	// whenever the content changes.
	ETag string
	// ContentType is the MIME type given to Put, or one guessed from the
	// key's extension (application/octet-stream when unknown).
	ContentType string
}

// BucketInfo describes one bucket.
type BucketInfo struct {
	Name      string
	CreatedAt time.Time
}

// DefaultMaxKeys is the page size of List when ListOptions.MaxKeys is not
// positive, and also the largest page it returns (as in S3).
const DefaultMaxKeys = 1000

// ListOptions selects and pages the objects List returns.
//
// Results are "entries": object keys and, with a Delimiter, common
// prefixes. An entry is returned only if it sorts strictly after StartAfter,
// so a caller pages by passing the previous page's NextStartAfter.
type ListOptions struct {
	// Prefix restricts the listing to keys that start with it. It is a
	// plain string prefix: "images/a" matches "images/a.jpg" and
	// "images/ab/c.png".
	Prefix string
	// StartAfter skips every entry that does not sort strictly after it.
	StartAfter string
	// Delimiter, when not empty, rolls up keys that contain it after the
	// Prefix into one common prefix each (the key up to and including the
	// first Delimiter after Prefix), as S3 does. "/" lists one directory
	// level.
	Delimiter string
	// MaxKeys bounds the number of entries (objects plus common prefixes)
	// in a page: DefaultMaxKeys when not positive, and never more than it.
	MaxKeys int
}

// ListPage is one page of a listing.
type ListPage struct {
	// Objects are in ascending key order.
	Objects []ObjectInfo
	// CommonPrefixes are in ascending order, each ending in the Delimiter.
	CommonPrefixes []string
	// Truncated reports that more entries follow; pass NextStartAfter as
	// StartAfter to get them. NextStartAfter is the greatest entry of the
	// page (a key or a common prefix) and is empty when not Truncated.
	Truncated      bool
	NextStartAfter string
}

// Range selects part of an object: Length bytes from Offset, or to the end
// when Length is -1. A range that runs past the end is cut at the end, as in
// HTTP. Offset must be within the object (so no range is valid on an empty
// object), Length must be positive or -1; anything else is ErrInvalidRange.
type Range struct {
	Offset int64
	Length int64
}

// Resolve checks r against an object of size bytes and returns the number
// of bytes it covers; an error wraps ErrInvalidRange. Store
// implementations use it to apply Range's rules.
func (r Range) Resolve(size int64) (int64, error) {
	switch {
	case r.Offset < 0:
		return 0, fmt.Errorf("offset %d is negative: %w", r.Offset, ErrInvalidRange)
	case r.Offset >= size:
		return 0, fmt.Errorf("offset %d is not within the object's %d bytes: %w", r.Offset, size, ErrInvalidRange)
	case r.Length == -1:
		return size - r.Offset, nil
	case r.Length <= 0:
		return 0, fmt.Errorf("length %d is neither positive nor -1: %w", r.Length, ErrInvalidRange)
	}
	return min(r.Length, size-r.Offset), nil
}

// PutOptions are the optional attributes of a Put.
type PutOptions struct {
	// ContentType is stored with the object; when empty it is guessed from
	// the key's extension.
	ContentType string
}

// MaxPresignExpiry is the longest validity of a presigned URL, S3's limit.
const MaxPresignExpiry = 7 * 24 * time.Hour

// Errors returned by Store implementations, wrapped with detail.
var (
	ErrNotFound       = errors.New("object not found")
	ErrBucketNotFound = errors.New("bucket not found")
	ErrBucketExists   = errors.New("bucket already exists")
	ErrBucketNotEmpty = errors.New("bucket not empty")
	ErrInvalidKey     = errors.New("invalid object key")
	ErrInvalidBucket  = errors.New("invalid bucket name")
	ErrInvalidRange   = errors.New("invalid range")
	ErrInvalidPath    = errors.New("invalid object storage path")
	// ErrKeyConflict is returned by stores on a file system, when a Put's
	// key cannot coexist with an existing one there: "a/b" when "a" is an
	// object, or "a" when objects exist under "a/". The local store
	// returns it, and so does the S3 store on a server that keeps objects
	// as files (versitygw's POSIX backend); S3 itself allows both.
	ErrKeyConflict = errors.New("key conflicts with an existing object or prefix")
	// ErrInvalidExpiry is returned by PresignGet for an expiry outside
	// (0, MaxPresignExpiry].
	ErrInvalidExpiry = errors.New("invalid presigned URL expiry")
)

// checkExpiry validates a PresignGet expiry.
func checkExpiry(expires time.Duration) error {
	if expires <= 0 || expires > MaxPresignExpiry {
		return fmt.Errorf("%v not in (0, %v]: %w", expires, MaxPresignExpiry, ErrInvalidExpiry)
	}
	return nil
}

// ctxReader makes a long copy stop when its context is cancelled.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// DefaultContentType is the content type of an object stored without one:
// a guess from the key's extension, as OBS and S3 clients make. Store
// implementations set it when PutOptions.ContentType is empty.
func DefaultContentType(key string) string {
	if t := mime.TypeByExtension(path.Ext(key)); t != "" {
		return t
	}
	return "application/octet-stream"
}
