// Package s3store is the obs.Store for S3-compatible object storage: Huawei
// OBS, MinIO, AWS S3 and other servers that speak the S3 REST API with
// signature V4. It talks to the server through minio-go.
//
// It owns the translation between obs's contract and S3: key validation
// before any request, directory markers and unaddressable keys hidden from
// listings, paging by StartAfter, streaming uploads in parts of bounded
// size, ranges, and S3 error codes mapped to the obs sentinels. It knows
// nothing of datasets or IAM, and it never creates buckets on its own.
//
// Where it differs from the local store:
//   - Put's ModTime is the client's clock when the upload completed (S3
//     does not return the time it records); Head, Get and List report the
//     server's, to the second.
//   - An object larger than PartSize is uploaded in parts, and its ETag
//     then contains '-' (S3's multipart ETag), as the obs contract allows.
//     On a bucket with SSE-KMS or SSE-C encryption S3's ETags are not
//     content MD5s even without '-'; this package reports them as S3 gives
//     them, so that List and Head agree.
//   - "a" and "a/b" can both be objects on S3. A server that keeps
//     objects as files (versitygw's POSIX backend) refuses the second as
//     the local store does, and Put then fails with ErrKeyConflict.
//   - A common prefix is reported whenever S3 reports it, which includes a
//     prefix holding only a directory marker ("dir/") or only keys that
//     are not valid obs keys ("a//b"); those keys themselves are never
//     listed as objects.
//   - AWS answers 403, not 404, for a missing key when the credentials
//     may not list the bucket: Head and Get then fail with S3's
//     AccessDenied error rather than obs.ErrNotFound.
//
// minio-go sends CreateBucket path-style even when PathStyle is false;
// every other request follows PathStyle.
package s3store

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/atelier-dev/atelier/internal/obs"
)

// Config locates and authenticates an S3-compatible endpoint.
type Config struct {
	// Endpoint is the server's base URL, "http://host:port" or
	// "https://obs.cn-north-4.myhuaweicloud.com"; it has no path.
	Endpoint string
	// AccessKey and SecretKey sign every request (signature V4).
	AccessKey string
	SecretKey string
	// Region is the region requests are signed for; "us-east-1" when
	// empty. It must be the buckets' region (Huawei OBS: "cn-north-4",
	// ...), since the store never asks the server for a bucket's location.
	Region string
	// PathStyle addresses buckets as http://host/bucket/key instead of
	// http://bucket.host/key. MinIO, versitygw and most self-hosted
	// servers need it; AWS S3 and Huawei OBS use virtual-host addressing.
	PathStyle bool
	// Transport, if not nil, carries the requests (custom TLS roots,
	// proxies, tests); otherwise minio-go's default transport does.
	Transport http.RoundTripper
	// PartSize is the size of the parts a large Put is uploaded in, and
	// the memory each running Put holds: DefaultPartSize when zero, at
	// least MinPartSize. S3 allows 10,000 parts, so it also bounds the
	// size of an object Put can store (about 78 GiB with the default).
	PartSize int64
}

const (
	// DefaultPartSize is the default Config.PartSize.
	DefaultPartSize = 8 << 20
	// MinPartSize is S3's smallest part but the last.
	MinPartSize = 5 << 20
	// maxParts is S3's limit on the parts of one upload.
	maxParts = 10000
)

// smallBufs hold the start of each Put's content; see Put.
var smallBufs = sync.Pool{New: func() any {
	b := make([]byte, smallBufSize)
	return &b
}}

const smallBufSize = 256 << 10

// Store is an obs.Store over one S3-compatible endpoint. It is safe for
// concurrent use.
type Store struct {
	core     minio.Core
	secure   bool
	partSize int64
	bufs     sync.Pool // of *[]byte of partSize bytes
}

var _ obs.Store = (*Store)(nil)

// New returns a Store for cfg. It checks cfg but makes no request, and so
// does not use ctx yet (keys scoped to some buckets may not list buckets,
// say, so there is no request every server allows): a wrong endpoint or
// key shows on first use.
func New(ctx context.Context, cfg Config) (*Store, error) {
	u, err := url.Parse(cfg.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("s3 endpoint %q: %w", cfg.Endpoint, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("s3 endpoint %q: want http(s)://host[:port] without path, query or user", cfg.Endpoint)
	}
	if cfg.AccessKey == "" || cfg.SecretKey == "" {
		return nil, errors.New("s3 endpoint: access key and secret key are required")
	}
	region := cfg.Region
	if region == "" {
		region = "us-east-1"
	}
	partSize := cfg.PartSize
	switch {
	case partSize == 0:
		partSize = DefaultPartSize
	case partSize < MinPartSize || partSize > 5<<30:
		return nil, fmt.Errorf("s3 part size %d: want %d bytes to 5 GiB", partSize, MinPartSize)
	}
	lookup := minio.BucketLookupDNS
	if cfg.PathStyle {
		lookup = minio.BucketLookupPath
	}
	c, err := minio.New(u.Host, &minio.Options{
		Creds:        credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure:       u.Scheme == "https",
		Region:       region,
		BucketLookup: lookup,
		Transport:    cfg.Transport,
	})
	if err != nil {
		return nil, fmt.Errorf("s3 endpoint %q: %w", cfg.Endpoint, err)
	}
	s := &Store{core: minio.Core{Client: c}, secure: u.Scheme == "https", partSize: partSize}
	s.bufs.New = func() any {
		b := make([]byte, s.partSize)
		return &b
	}
	return s, nil
}

// HeadBucket implements obs.Store.
func (s *Store) HeadBucket(ctx context.Context, bucket string) (err error) {
	defer wrap(&err, "head bucket %q", bucket)
	if err := obs.ValidateBucketName(bucket); err != nil {
		return err
	}
	return s.headBucket(ctx, bucket)
}

func (s *Store) headBucket(ctx context.Context, bucket string) error {
	ok, err := s.core.BucketExists(ctx, bucket)
	if err != nil {
		return mapErr(err)
	}
	if !ok {
		return obs.ErrBucketNotFound
	}
	return nil
}

// CreateBucket implements obs.Store, in the store's region. S3 answers
// 200 to creating a bucket its caller already owns in us-east-1, so the
// bucket's existence is checked first; two concurrent CreateBucket calls
// for one new name there may then both succeed.
func (s *Store) CreateBucket(ctx context.Context, bucket string) (err error) {
	defer wrap(&err, "create bucket %q", bucket)
	if err := obs.ValidateBucketName(bucket); err != nil {
		return err
	}
	switch err := s.headBucket(ctx, bucket); {
	case err == nil:
		return obs.ErrBucketExists
	case !errors.Is(err, obs.ErrBucketNotFound):
		// 403: the name is taken by another account, or we may not look;
		// MakeBucket tells which.
		var er minio.ErrorResponse
		if !errors.As(err, &er) || er.StatusCode != http.StatusForbidden {
			return err
		}
	}
	err = s.core.MakeBucket(ctx, bucket, minio.MakeBucketOptions{})
	if code(err) == "BucketAlreadyExists" {
		// S3 says so of a name another account owns as well as (some
		// servers) of our own bucket: only the latter is ErrBucketExists,
		// which callers may treat as success.
		if s.headBucket(ctx, bucket) == nil {
			return obs.ErrBucketExists
		}
		return fmt.Errorf("the name is taken by another account, or this one may not read the bucket: %w", err)
	}
	return mapErr(err)
}

// DeleteBucket implements obs.Store. A bucket that holds only directory
// markers, keys obs cannot address, or unfinished multipart uploads (on
// some servers) is not empty for S3: ErrBucketNotEmpty.
func (s *Store) DeleteBucket(ctx context.Context, bucket string) (err error) {
	defer wrap(&err, "delete bucket %q", bucket)
	if err := obs.ValidateBucketName(bucket); err != nil {
		return err
	}
	return mapErr(s.core.RemoveBucket(ctx, bucket))
}

// ListBuckets implements obs.Store. Buckets whose names obs does not
// accept (legacy AWS names with capitals or '_') are left out: no other
// method could address them.
func (s *Store) ListBuckets(ctx context.Context) (_ []obs.BucketInfo, err error) {
	defer wrap(&err, "list buckets")
	bs, err := s.core.ListBuckets(ctx)
	if err != nil {
		return nil, mapErr(err)
	}
	out := make([]obs.BucketInfo, 0, len(bs))
	for _, b := range bs {
		if obs.ValidateBucketName(b.Name) == nil {
			out = append(out, obs.BucketInfo{Name: b.Name, CreatedAt: b.CreationDate})
		}
	}
	slices.SortFunc(out, func(a, b obs.BucketInfo) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Head implements obs.Store.
func (s *Store) Head(ctx context.Context, bucket, key string) (_ obs.ObjectInfo, err error) {
	defer wrap(&err, "head %q", location(bucket, key))
	if err := checkObject(bucket, key); err != nil {
		return obs.ObjectInfo{}, err
	}
	oi, err := s.core.StatObject(ctx, bucket, key, minio.StatObjectOptions{})
	if err != nil {
		return obs.ObjectInfo{}, s.notFound(ctx, bucket, mapErr(err))
	}
	return objectInfo(bucket, key, oi), nil
}

// notFound refines err, the error of a HEAD request: a HEAD response has
// no body, so a 404 does not say whether the key or the bucket is missing.
func (s *Store) notFound(ctx context.Context, bucket string, err error) error {
	if !errors.Is(err, obs.ErrNotFound) {
		return err
	}
	if berr := s.headBucket(ctx, bucket); errors.Is(berr, obs.ErrBucketNotFound) {
		return berr
	}
	return err
}

// Get implements obs.Store with one GET request, so the content and the
// metadata returned are of one version. A range is checked as far as it
// can be without the object's size before the request; the server checks
// the rest (416, ErrInvalidRange), and the response is checked again
// against the size it reports.
func (s *Store) Get(ctx context.Context, bucket, key string, rng *obs.Range) (_ io.ReadCloser, _ obs.ObjectInfo, err error) {
	defer wrap(&err, "get %q", location(bucket, key))
	if err := checkObject(bucket, key); err != nil {
		return nil, obs.ObjectInfo{}, err
	}
	var opts minio.GetObjectOptions
	if rng != nil {
		// Any size past the end of the range lets Resolve judge the
		// offset and length alone.
		if _, err := rng.Resolve(max(rng.Offset, 0) + 1); err != nil {
			return nil, obs.ObjectInfo{}, err
		}
		if rng.Length == -1 || rng.Length > math.MaxInt64-rng.Offset {
			opts.Set("Range", fmt.Sprintf("bytes=%d-", rng.Offset))
		} else {
			opts.Set("Range", fmt.Sprintf("bytes=%d-%d", rng.Offset, rng.Offset+rng.Length-1))
		}
	}
	body, oi, hdr, err := s.core.GetObject(ctx, bucket, key, opts)
	if err != nil {
		return nil, obs.ObjectInfo{}, mapErr(err)
	}
	info := objectInfo(bucket, key, oi)
	if rng == nil {
		return body, info, nil
	}
	// 206: Content-Range gives the object's size. A server that ignores
	// Range answers 200 with the whole object: skip to the range.
	partial := hdr.Get("Content-Range") != ""
	if partial {
		total, ok := contentRangeSize(hdr.Get("Content-Range"))
		if !ok {
			body.Close()
			return nil, obs.ObjectInfo{}, fmt.Errorf("s3: bad Content-Range %q", hdr.Get("Content-Range"))
		}
		info.Size = total
	}
	n, err := rng.Resolve(info.Size)
	if err != nil {
		body.Close()
		return nil, obs.ObjectInfo{}, err
	}
	if !partial {
		if _, err := io.CopyN(io.Discard, body, rng.Offset); err != nil {
			body.Close()
			return nil, obs.ObjectInfo{}, err
		}
	}
	return readCloser{io.LimitReader(body, n), body}, info, nil
}

type readCloser struct {
	io.Reader
	io.Closer
}

// contentRangeSize returns the complete length in "bytes a-b/size".
func contentRangeSize(cr string) (int64, bool) {
	_, size, ok := strings.Cut(cr, "/")
	if !ok || !strings.HasPrefix(cr, "bytes ") {
		return 0, false
	}
	n, err := strconv.ParseInt(size, 10, 64)
	return n, err == nil && n >= 0
}

// Put implements obs.Store. It reads up to PartSize bytes first (256 KiB,
// then the rest of a part buffer if there is more): content that fits is
// sent in one PUT, with its MD5 for the server to check, and
// its ETag is that MD5. Larger content goes up as a multipart upload, one
// part in memory at a time; S3 makes the object visible only when the
// upload completes, and a failed or cancelled Put aborts it.
func (s *Store) Put(ctx context.Context, bucket, key string, r io.Reader, opts obs.PutOptions) (_ obs.ObjectInfo, err error) {
	defer wrap(&err, "put %q", location(bucket, key))
	if err := checkObject(bucket, key); err != nil {
		return obs.ObjectInfo{}, err
	}
	ct := opts.ContentType
	if ct == "" {
		ct = obs.DefaultContentType(key)
	}
	popts := minio.PutObjectOptions{ContentType: ct, DisableContentSha256: true}

	r = ctxReader{ctx, r}
	// Most objects are small: read into a small buffer first, so that
	// many concurrent Puts of small objects do not hold a part each.
	sp := smallBufs.Get().(*[]byte)
	defer smallBufs.Put(sp)
	buf := *sp
	n, err := io.ReadFull(r, buf)
	if err == nil {
		bp := s.bufs.Get().(*[]byte)
		defer s.bufs.Put(bp)
		copy(*bp, buf)
		buf = *bp
		var m int
		m, err = io.ReadFull(r, buf[n:])
		n += m
	}
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return obs.ObjectInfo{}, fmt.Errorf("read content: %w", err)
	}
	var ui minio.UploadInfo
	if n < len(buf) {
		md5b64, sha := s.sums(buf[:n])
		ui, err = s.core.PutObject(ctx, bucket, key, bytes.NewReader(buf[:n]), int64(n), md5b64, sha, popts)
		ui.Size = int64(n)
	} else {
		ui, err = s.putMultipart(ctx, bucket, key, buf, r, popts)
	}
	if err != nil {
		return obs.ObjectInfo{}, mapErr(err)
	}
	return obs.ObjectInfo{
		Bucket:      bucket,
		Key:         key,
		Size:        ui.Size,
		ModTime:     time.Now(),
		ETag:        trimETag(ui.ETag),
		ContentType: ct,
	}, nil
}

// putMultipart uploads buf, which is full, and the rest of r in parts of
// len(buf) bytes.
func (s *Store) putMultipart(ctx context.Context, bucket, key string, buf []byte, r io.Reader, opts minio.PutObjectOptions) (_ minio.UploadInfo, err error) {
	id, err := s.core.NewMultipartUpload(ctx, bucket, key, opts)
	if err != nil {
		return minio.UploadInfo{}, err
	}
	defer func() {
		if err != nil {
			// Abort even when ctx is cancelled: an unfinished upload
			// keeps its parts, and their cost, on the server.
			actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
			defer cancel()
			s.core.AbortMultipartUpload(actx, bucket, key, id)
		}
	}()
	var parts []minio.CompletePart
	var size int64
	n := len(buf)
	for num := 1; ; num++ {
		if num > maxParts {
			return minio.UploadInfo{}, fmt.Errorf("content is larger than %d parts of %d bytes", maxParts, len(buf))
		}
		md5b64, sha := s.sums(buf[:n])
		p, err := s.core.PutObjectPart(ctx, bucket, key, id, num, bytes.NewReader(buf[:n]), int64(n),
			minio.PutObjectPartOptions{Md5Base64: md5b64, Sha256Hex: sha, DisableContentSha256: true})
		if err != nil {
			return minio.UploadInfo{}, err
		}
		parts = append(parts, minio.CompletePart{PartNumber: num, ETag: p.ETag})
		size += int64(n)
		var rerr error
		n, rerr = io.ReadFull(r, buf)
		if rerr == io.EOF {
			break
		}
		if rerr != nil && rerr != io.ErrUnexpectedEOF {
			return minio.UploadInfo{}, fmt.Errorf("read content: %w", rerr)
		}
	}
	ui, err := s.core.CompleteMultipartUpload(ctx, bucket, key, id, parts, minio.PutObjectOptions{})
	if err != nil {
		return minio.UploadInfo{}, err
	}
	ui.Size = size
	return ui, nil
}

// sums returns the Content-MD5 of b, and its SHA-256 when requests are
// signed over plain HTTP (over TLS the payload goes unsigned).
func (s *Store) sums(b []byte) (md5b64, sha256hex string) {
	m := md5.Sum(b)
	md5b64 = base64.StdEncoding.EncodeToString(m[:])
	if !s.secure {
		h := sha256.Sum256(b)
		sha256hex = hex.EncodeToString(h[:])
	}
	return md5b64, sha256hex
}

// Delete implements obs.Store.
func (s *Store) Delete(ctx context.Context, bucket, key string) (err error) {
	defer wrap(&err, "delete %q", location(bucket, key))
	if err := checkObject(bucket, key); err != nil {
		return err
	}
	return mapErr(s.core.RemoveObject(ctx, bucket, key, minio.RemoveObjectOptions{}))
}

// PresignGet implements obs.Store with an S3 presigned URL (signature V4
// in the query). It makes no request. S3 counts the validity in whole
// seconds: expires is cut to whole seconds, and is at least one.
func (s *Store) PresignGet(ctx context.Context, bucket, key string, expires time.Duration) (_ string, err error) {
	defer wrap(&err, "presign %q", location(bucket, key))
	if err := checkObject(bucket, key); err != nil {
		return "", err
	}
	if expires <= 0 || expires > obs.MaxPresignExpiry {
		return "", fmt.Errorf("%v not in (0, %v]: %w", expires, obs.MaxPresignExpiry, obs.ErrInvalidExpiry)
	}
	u, err := s.core.PresignedGetObject(ctx, bucket, key, max(expires.Truncate(time.Second), time.Second), nil)
	if err != nil {
		return "", mapErr(err)
	}
	return u.String(), nil
}

// checkObject validates a bucket name and an object key.
func checkObject(bucket, key string) error {
	if err := obs.ValidateBucketName(bucket); err != nil {
		return err
	}
	return obs.ValidateObjectKey(key)
}

// objectInfo converts the metadata of a HEAD or GET response.
func objectInfo(bucket, key string, oi minio.ObjectInfo) obs.ObjectInfo {
	return obs.ObjectInfo{
		Bucket:      bucket,
		Key:         key,
		Size:        oi.Size,
		ModTime:     oi.LastModified,
		ETag:        trimETag(oi.ETag),
		ContentType: oi.ContentType,
	}
}

// trimETag removes the quotes S3 puts around ETags.
func trimETag(etag string) string {
	return strings.TrimSuffix(strings.TrimPrefix(etag, `"`), `"`)
}

// ctxReader makes reading the content of a Put stop when its context is
// cancelled.
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

// location formats bucket and key for error messages.
func location(bucket, key string) string { return "obs://" + bucket + "/" + key }

// wrap adds context to *errp, if it is an error.
func wrap(errp *error, format string, args ...any) {
	if *errp != nil {
		*errp = fmt.Errorf("s3: "+format+": %w", append(args, *errp)...)
	}
}
