package s3store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/minio/minio-go/v7"

	"github.com/atelier-dev/atelier/internal/obs"
)

// maxRune sorts after every other character: a key prefix followed by it
// sorts after every valid key that starts with the prefix (bar keys that
// continue with it too, which roll up into the same common prefix anyway).
const maxRune = "\U0010FFFF"

// List implements obs.Store with ListObjectsV2 requests, each from a
// start-after of its own making rather than S3's continuation token:
//
//   - Keys that are not valid object keys (directory markers "dir/",
//     "a//b", backslashes) cannot be addressed, so they are skipped and do
//     not count towards MaxKeys; a page is filled from further requests if
//     need be, and it is Truncated only if a listable entry follows it.
//   - After a common prefix, the next request starts past every key under
//     it: S3 rolls the keys after start-after up into a common prefix, so
//     it would return the same prefix again, as it does when StartAfter
//     is a key under a common prefix (or the prefix itself) that the
//     caller has seen.
//
// minio-go's single-page listing takes no context: the context is
// checked before each request, and List returns when it is cancelled
// while the request in flight runs to its end in the background.
func (s *Store) List(ctx context.Context, bucket string, opts obs.ListOptions) (_ obs.ListPage, err error) {
	defer wrap(&err, "list %q", location(bucket, opts.Prefix))
	if err := obs.ValidateBucketName(bucket); err != nil {
		return obs.ListPage{}, err
	}
	for _, v := range []string{opts.Prefix, opts.StartAfter, opts.Delimiter} {
		if !utf8.ValidString(v) || len(v) > obs.MaxKeyLen {
			return obs.ListPage{}, fmt.Errorf("list option %q is not UTF-8 of at most %d bytes: %w", v, obs.MaxKeyLen, obs.ErrInvalidKey)
		}
	}
	limit := opts.MaxKeys
	if limit <= 0 || limit > obs.DefaultMaxKeys {
		limit = obs.DefaultMaxKeys
	}

	var (
		page obs.ListPage
		n    int
		last string // greatest entry in page
		// seen is the greatest entry looked at (or StartAfter): every
		// entry returned must sort after it.
		seen  = opts.StartAfter
		after = opts.StartAfter // the next request's start-after
		token string
	)
	if cp, ok := commonPrefix(opts, opts.StartAfter); ok {
		after = max(after, cp+maxRune)
	}
	for {
		if err := ctx.Err(); err != nil {
			return obs.ListPage{}, err
		}
		res, err := s.listV2(ctx, bucket, opts.Prefix, after, token, opts.Delimiter, min(limit-n+1, obs.DefaultMaxKeys))
		if err != nil {
			return obs.ListPage{}, mapErr(err)
		}
		objs, cps := res.Contents, res.CommonPrefixes
		for i, j := 0, 0; i < len(objs) || j < len(cps); {
			var o *minio.ObjectInfo
			var name string
			if j == len(cps) || i < len(objs) && objs[i].Key < cps[j].Prefix {
				o, name = &objs[i], objs[i].Key
				i++
			} else {
				name = cps[j].Prefix
				j++
			}
			if name <= seen {
				continue
			}
			seen = name
			if o != nil {
				after = name
				if obs.ValidateObjectKey(name) != nil {
					continue
				}
			} else {
				after = name + maxRune
				if obs.ValidateKey(name) != nil {
					continue
				}
			}
			if n == limit {
				page.Truncated, page.NextStartAfter = true, last
				return page, nil
			}
			if o != nil {
				page.Objects = append(page.Objects, obs.ObjectInfo{
					Bucket: bucket,
					Key:    name,
					Size:   o.Size,
					// Head's Last-Modified has whole seconds.
					ModTime: o.LastModified.Truncate(time.Second),
					ETag:    trimETag(o.ETag),
				})
			} else {
				page.CommonPrefixes = append(page.CommonPrefixes, name)
			}
			n++
			last = name
		}
		if !res.IsTruncated {
			return page, nil
		}
		token = ""
		if len(objs)+len(cps) == 0 {
			// Truncated yet empty: only the token can move on.
			if res.NextContinuationToken == "" {
				return obs.ListPage{}, errors.New("s3: truncated listing without entries or continuation token")
			}
			token = res.NextContinuationToken
		}
	}
}

// commonPrefix returns the common prefix that entry rolls up into under
// opts, if any.
func commonPrefix(opts obs.ListOptions, entry string) (string, bool) {
	if opts.Delimiter == "" || !strings.HasPrefix(entry, opts.Prefix) {
		return "", false
	}
	i := strings.Index(entry[len(opts.Prefix):], opts.Delimiter)
	if i < 0 {
		return "", false
	}
	return entry[:len(opts.Prefix)+i+len(opts.Delimiter)], true
}

// listV2 makes one ListObjectsV2 request. minio-go's Core does not take a
// context for it, so the request runs in its own goroutine and listV2
// returns early if ctx is cancelled.
func (s *Store) listV2(ctx context.Context, bucket, prefix, startAfter, token, delimiter string, maxKeys int) (minio.ListBucketV2Result, error) {
	type result struct {
		res minio.ListBucketV2Result
		err error
	}
	ch := make(chan result, 1)
	go func() {
		res, err := s.core.ListObjectsV2(bucket, prefix, startAfter, token, delimiter, maxKeys)
		ch <- result{res, err}
	}()
	select {
	case r := <-ch:
		return r.res, r.err
	case <-ctx.Done():
		return minio.ListBucketV2Result{}, ctx.Err()
	}
}
