package client

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Atelier's object API (docs/objects.md): /v1/{project_id}/obs/buckets/….

// CodeBucketExists is the error_code of creating a bucket that exists.
const CodeBucketExists = "OBS.BucketAlreadyExists"

// Bucket is one bucket of a listing.
type Bucket struct {
	Name         string `json:"name"`
	CreationDate string `json:"creation_date"`
}

// Object describes one object.
type Object struct {
	Key          string `json:"key"`
	Size         int64  `json:"size"`
	ETag         string `json:"etag"`
	LastModified string `json:"last_modified"`
	ContentType  string `json:"content_type"`
}

// ObjectList is one page of a listing.
type ObjectList struct {
	Objects        []Object `json:"objects"`
	CommonPrefixes []string `json:"common_prefixes"`
	IsTruncated    bool     `json:"is_truncated"`
	NextStartAfter string   `json:"next_start_after"`
}

// ListOptions select and page a listing; zero values are the server's defaults.
type ListOptions struct {
	Prefix, Delimiter, StartAfter string
	MaxKeys                       int
}

func (c *Client) bucketsPath() string { return "/v1/" + c.cfg.ProjectID + "/obs/buckets" }

func (c *Client) objectPath(bucket, key string) string {
	return c.bucketsPath() + "/" + bucket + "/objects/" + key
}

// ListBuckets lists every bucket.
func (c *Client) ListBuckets(ctx context.Context) ([]Bucket, error) {
	var out struct {
		Buckets []Bucket `json:"buckets"`
	}
	err := c.do(ctx, call{method: http.MethodGet, path: c.bucketsPath()}, &out)
	return out.Buckets, err
}

// CreateBucket creates a bucket; an existing one is an *Error with
// CodeBucketExists.
func (c *Client) CreateBucket(ctx context.Context, bucket string) error {
	return c.do(ctx, call{method: http.MethodPut, path: c.bucketsPath() + "/" + bucket}, nil)
}

// EnsureBucket creates a bucket unless it exists.
func (c *Client) EnsureBucket(ctx context.Context, bucket string) error {
	if err := c.CreateBucket(ctx, bucket); err != nil && !IsCode(err, CodeBucketExists) {
		return err
	}
	return nil
}

// ListObjects lists one page of a bucket's objects.
func (c *Client) ListObjects(ctx context.Context, bucket string, opts ListOptions) (*ObjectList, error) {
	q := url.Values{}
	for k, v := range map[string]string{"prefix": opts.Prefix, "delimiter": opts.Delimiter, "start_after": opts.StartAfter} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if opts.MaxKeys > 0 {
		q.Set("max_keys", strconv.Itoa(opts.MaxKeys))
	}
	var out ObjectList
	if err := c.do(ctx, call{method: http.MethodGet, path: c.bucketsPath() + "/" + bucket + "/objects", query: q}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// PutObject uploads size bytes of r as bucket/key, streaming them. It
// checks the returned ETag against the MD5 of what was sent when the ETag
// is an MD5.
func (c *Client) PutObject(ctx context.Context, bucket, key string, r io.Reader, size int64) (*Object, error) {
	h := md5.New()
	var out Object
	if err := c.do(ctx, call{method: http.MethodPut, path: c.objectPath(bucket, key), stream: io.TeeReader(r, h), size: size}, &out); err != nil {
		return nil, err
	}
	if sum := hex.EncodeToString(h.Sum(nil)); len(out.ETag) == len(sum) && out.ETag != sum {
		return nil, fmt.Errorf("upload %s/%s: the server stored ETag %s, but the MD5 of the content sent is %s", bucket, key, out.ETag, sum)
	}
	return &out, nil
}

// GetObject downloads bucket/key; the caller closes the reader.
func (c *Client) GetObject(ctx context.Context, bucket, key string) (io.ReadCloser, error) {
	resp, err := c.send(ctx, call{method: http.MethodGet, path: c.objectPath(bucket, key)})
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// DeleteObject deletes bucket/key.
func (c *Client) DeleteObject(ctx context.Context, bucket, key string) error {
	return c.do(ctx, call{method: http.MethodDelete, path: c.objectPath(bucket, key)}, nil)
}

// UploadProgress reports an upload of a folder as it goes.
type UploadProgress struct {
	// File is the relative path (slash-separated) of the file just uploaded.
	File              string
	Files, TotalFiles int
	Bytes, TotalBytes int64
	Elapsed           time.Duration
	// Partial is set on reports made while File is still being sent;
	// Done on the last report, after every file.
	Partial, Done bool
}

// Rate is the average upload rate so far, in bytes per second.
func (p UploadProgress) Rate() float64 {
	if p.Elapsed <= 0 {
		return 0
	}
	return float64(p.Bytes) / p.Elapsed.Seconds()
}

// skipNames are files and folders that never belong in a job's code.
var skipNames = map[string]bool{
	".git": true, ".hg": true, ".svn": true, ".bzr": true, "__pycache__": true,
	".ipynb_checkpoints": true, ".DS_Store": true, ".mypy_cache": true, ".pytest_cache": true,
}

// LocalFile is a file of a folder to upload.
type LocalFile struct {
	Path string // on disk
	Rel  string // slash-separated, relative to the folder
	Size int64
}

// ScanDir lists the regular files under dir (following symbolic links to
// files, not to folders), skipping version-control folders, caches and
// compiled Python files.
func ScanDir(dir string) ([]LocalFile, error) {
	var files []LocalFile
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != dir && (skipNames[d.Name()] || strings.HasSuffix(d.Name(), ".pyc")) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		fi, err := os.Stat(p)
		if err != nil {
			return err
		}
		if !fi.Mode().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		files = append(files, LocalFile{Path: p, Rel: filepath.ToSlash(rel), Size: fi.Size()})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return files, nil
}

// UploadFiles uploads files to bucket under prefix (which ends in "/" or
// is empty), one after the other, calling progress after each file and
// periodically while a large one is sent.
func (c *Client) UploadFiles(ctx context.Context, files []LocalFile, bucket, prefix string, progress func(UploadProgress)) (UploadProgress, error) {
	p := UploadProgress{TotalFiles: len(files)}
	for _, f := range files {
		p.TotalBytes += f.Size
	}
	start := time.Now()
	for _, f := range files {
		if err := c.uploadFile(ctx, f, bucket, path.Join(prefix, f.Rel), &p, start, progress); err != nil {
			return p, err
		}
	}
	p.Elapsed, p.Done, p.File = time.Since(start), true, ""
	if progress != nil {
		progress(p)
	}
	return p, nil
}

func (c *Client) uploadFile(ctx context.Context, f LocalFile, bucket, key string, p *UploadProgress, start time.Time, progress func(UploadProgress)) error {
	fh, err := os.Open(f.Path)
	if err != nil {
		return err
	}
	defer fh.Close()
	base := p.Bytes
	r := &countingReader{r: io.LimitReader(fh, f.Size), every: 4 << 20, tick: func(n int64) {
		if progress != nil {
			q := *p
			q.Bytes, q.Elapsed, q.File, q.Partial = base+n, time.Since(start), f.Rel, true
			progress(q)
		}
	}}
	if _, err := c.PutObject(ctx, bucket, key, r, f.Size); err != nil {
		return fmt.Errorf("upload %s to obs://%s/%s: %w", f.Rel, bucket, key, err)
	}
	p.Files++
	p.Bytes = base + f.Size
	p.File, p.Elapsed = f.Rel, time.Since(start)
	if progress != nil {
		progress(*p)
	}
	return nil
}

// countingReader calls tick with the bytes read so far every `every` bytes.
type countingReader struct {
	r     io.Reader
	n     int64
	last  int64
	every int64
	tick  func(int64)
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	if c.n-c.last >= c.every {
		c.last = c.n
		c.tick(c.n)
	}
	return n, err
}
