package api

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/atelier-dev/atelier/internal/iam"
	"github.com/atelier-dev/atelier/internal/obs"
)

// Atelier's own object API (not part of ModelArts; docs/objects.md): the
// buckets and objects of the server's object store, so that a client
// without an S3 endpoint (the embedded store has none) can upload code and
// data and fetch results. The routes live under /v1/{project_id}/ so the
// caller's project scoping applies like on any ModelArts route; each
// route's action is an OBS action decided on the bucket or object it
// names, with account-wide grants only (OBS is a global service), so that
// resource-scoped OBS policies (obs:*:*:object:bucket/prefix*) apply.

// MaxObjectSize bounds one uploaded object.
const MaxObjectSize = 5 << 30

// Error codes of the object API: OBS's (S3's) names for the same conditions.
const (
	codeNoSuchBucket      = "OBS.NoSuchBucket"
	codeNoSuchKey         = "OBS.NoSuchKey"
	codeBucketExists      = "OBS.BucketAlreadyExists"
	codeBucketNotEmpty    = "OBS.BucketNotEmpty"
	codeInvalidBucketName = "OBS.InvalidBucketName"
	codeInvalidObjectName = "OBS.InvalidObjectName"
	codeInvalidRange      = "OBS.InvalidRange"
	codeKeyConflict       = "OBS.KeyConflict"
	codeEntityTooLarge    = "OBS.EntityTooLarge"
	codeIncompleteBody    = "OBS.IncompleteBody"
)

func (s *Server) objectRoutes() []Route {
	const buckets = "/v1/{project_id}/obs/buckets"
	const objects = buckets + "/{bucket}/objects"
	r := func(name, method, path, action string, h HandlerFunc) Route {
		return Route{Name: name, Method: method, Path: path, Action: action, Related: []string{action}, ObjectAction: true,
			Family: "obs", Service: ServiceModelArts, Needs: NeedsObjects, Handler: h}
	}
	put := r("Uploading an object (Atelier)", http.MethodPut, objects+"/{key...}", "obs:object:PutObject", s.putObject)
	put.StreamBody, put.MaxBody = true, MaxObjectSize
	get := r("Downloading an object (Atelier)", http.MethodGet, objects+"/{key...}", "obs:object:GetObject", s.getObject)
	return []Route{
		r("Listing buckets (Atelier)", http.MethodGet, buckets, "obs:bucket:ListAllMyBuckets", s.listBuckets),
		r("Creating a bucket (Atelier)", http.MethodPut, buckets+"/{bucket}", "obs:bucket:CreateBucket", s.createBucket),
		r("Listing objects (Atelier)", http.MethodGet, objects, "obs:bucket:ListBucket", s.listObjects),
		put,
		get,
		get.alias("Getting object metadata (Atelier)", http.MethodHead, objects+"/{key...}"),
		r("Deleting an object (Atelier)", http.MethodDelete, objects+"/{key...}", "obs:object:DeleteObject", s.deleteObject),
	}
}

// objectErr maps an object-store error to the API's; anything unknown is
// an internal error whose detail (paths) does not reach the caller.
func objectErr(err error, bucket, key string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, obs.ErrBucketNotFound):
		return Errorf(http.StatusNotFound, codeNoSuchBucket, "The bucket %q does not exist.", bucket)
	case errors.Is(err, obs.ErrNotFound):
		return Errorf(http.StatusNotFound, codeNoSuchKey, "The object %q does not exist in bucket %q.", key, bucket)
	case errors.Is(err, obs.ErrBucketExists):
		return Errorf(http.StatusConflict, codeBucketExists, "The bucket %q already exists.", bucket)
	case errors.Is(err, obs.ErrBucketNotEmpty):
		return Errorf(http.StatusConflict, codeBucketNotEmpty, "The bucket %q is not empty.", bucket)
	case errors.Is(err, obs.ErrInvalidBucket):
		return Errorf(http.StatusBadRequest, codeInvalidBucketName, "Invalid bucket name %q: 3 to 63 lowercase letters, digits, '-' and '.'.", bucket)
	case errors.Is(err, obs.ErrInvalidKey):
		return Errorf(http.StatusBadRequest, codeInvalidObjectName, "Invalid object key %q.", key)
	case errors.Is(err, obs.ErrKeyConflict):
		return Errorf(http.StatusConflict, codeKeyConflict, "The key %q conflicts with an existing object or prefix: this object store keeps objects as files, so \"a\" and \"a/b\" cannot both exist.", key)
	case errors.Is(err, obs.ErrInvalidRange):
		return Errorf(http.StatusRequestedRangeNotSatisfiable, codeInvalidRange, "The requested range is not satisfiable.")
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return Errorf(http.StatusRequestEntityTooLarge, codeEntityTooLarge, "The object exceeds the limit of %d bytes.", mbe.Limit)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return Errorf(http.StatusBadRequest, codeIncompleteBody, "The request body ended before Content-Length bytes.")
	}
	return err
}

// bucketParam validates the path's bucket before anything else happens.
func bucketParam(r *http.Request) (string, error) {
	b := r.PathValue("bucket")
	if err := obs.ValidateBucketName(b); err != nil {
		return "", objectErr(err, b, "")
	}
	return b, nil
}

// authorizedObject validates the path's bucket and key and decides the
// route's OBS action on that object, before anything touches the store.
func authorizedObject(r *http.Request, c *Call) (bucket, key string, err error) {
	if bucket, key, err = objectParams(r); err != nil {
		return "", "", err
	}
	if err := c.AuthorizeObjects(ObjectRef{Bucket: bucket, Key: key}); err != nil {
		return "", "", err
	}
	return bucket, key, nil
}

// objectParams validates the path's bucket and object key. Keys follow the
// store's rules (obs.ValidateObjectKey): no "." or ".." segments, no empty
// segment, no backslash or control character, so a key is always a safe
// relative path.
func objectParams(r *http.Request) (bucket, key string, err error) {
	if bucket, err = bucketParam(r); err != nil {
		return "", "", err
	}
	key = r.PathValue("key")
	if err := obs.ValidateObjectKey(key); err != nil {
		return "", "", Errorf(http.StatusBadRequest, codeInvalidObjectName, "Invalid object key %q: %s.", key, keyProblem(err))
	}
	return bucket, key, nil
}

// keyProblem is the reason a key was refused, without the key repeated.
func keyProblem(err error) string {
	msg := strings.TrimSuffix(err.Error(), ": "+obs.ErrInvalidKey.Error())
	if i := strings.Index(msg, `" `); strings.HasPrefix(msg, "key \"") && i > 0 {
		return msg[i+2:]
	}
	return msg
}

type objectJSON struct {
	Key          string `json:"key"`
	Size         int64  `json:"size"`
	ETag         string `json:"etag"`
	LastModified string `json:"last_modified"`
	ContentType  string `json:"content_type"`
}

func toObjectJSON(o obs.ObjectInfo) objectJSON {
	ct := o.ContentType
	if ct == "" {
		ct = obs.DefaultContentType(o.Key)
	}
	return objectJSON{Key: o.Key, Size: o.Size, ETag: o.ETag, LastModified: isoTime(o.ModTime), ContentType: ct}
}

// listBuckets answers GET …/obs/buckets: {"buckets":[{"name","creation_date"}]}.
func (s *Server) listBuckets(w http.ResponseWriter, r *http.Request, c *Call) error {
	store := s.cfg.Objects
	if err := c.AuthorizeObjects(); err != nil {
		return err
	}
	list, err := store.ListBuckets(r.Context())
	if err != nil {
		return err
	}
	out := make([]map[string]string, 0, len(list))
	for _, b := range list {
		owner, err := s.iam.BucketOwner(r.Context(), b.Name)
		if err != nil {
			return err
		}
		if owner != c.Principal.DomainID {
			continue // another account's bucket
		}
		out = append(out, map[string]string{"name": b.Name, "creation_date": isoTimeOrEmpty(b.CreatedAt)})
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"buckets": out})
}

// createBucket answers PUT …/obs/buckets/{bucket}: 201, or 409
// OBS.BucketAlreadyExists.
func (s *Server) createBucket(w http.ResponseWriter, r *http.Request, c *Call) error {
	store := s.cfg.Objects
	bucket, err := bucketParam(r)
	if err != nil {
		return err
	}
	if err := c.AuthorizeObjects(ObjectRef{Bucket: bucket}); err != nil {
		return err
	}
	if err := s.iam.CreateBucket(r.Context(), c.Principal.DomainID, bucket, store); err != nil {
		if iam.KindOf(err) != 0 {
			return err // the claim was refused
		}
		return objectErr(err, bucket, "")
	}
	return WriteJSON(w, http.StatusCreated, map[string]string{"name": bucket})
}

// listObjects answers GET …/objects?prefix=&delimiter=&start_after=&max_keys=.
func (s *Server) listObjects(w http.ResponseWriter, r *http.Request, c *Call) error {
	store := s.cfg.Objects
	bucket, err := bucketParam(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	opts := obs.ListOptions{Prefix: q.Get("prefix"), Delimiter: q.Get("delimiter"), StartAfter: q.Get("start_after")}
	opts.MaxKeys = obs.DefaultMaxKeys
	if v := q.Get("max_keys"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > obs.DefaultMaxKeys {
			return BadRequest("max_keys: want an integer from 1 to %d", obs.DefaultMaxKeys)
		}
		opts.MaxKeys = n
	}
	if err := c.AuthorizeObjects(ObjectRef{Bucket: bucket}); err != nil {
		return err
	}
	page, err := store.List(r.Context(), bucket, opts)
	if err != nil {
		return objectErr(err, bucket, opts.Prefix)
	}
	objs := make([]objectJSON, 0, len(page.Objects))
	for _, o := range page.Objects {
		objs = append(objs, toObjectJSON(o))
	}
	prefixes := page.CommonPrefixes
	if prefixes == nil {
		prefixes = []string{}
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"objects": objs, "common_prefixes": prefixes,
		"is_truncated": page.Truncated, "next_start_after": page.NextStartAfter})
}

// putObject answers PUT …/objects/{key...}: the body is streamed into the
// store (never held in memory), which commits it atomically only when the
// whole body arrived.
func (s *Server) putObject(w http.ResponseWriter, r *http.Request, c *Call) error {
	store := s.cfg.Objects
	bucket, key, err := authorizedObject(r, c)
	if err != nil {
		return err
	}
	ct := r.Header.Get("Content-Type")
	if ct == "application/octet-stream" || ct == "" {
		ct = "" // guessed from the key, as OBS clients do
	}
	body := r.Body
	if body == nil {
		body = http.NoBody
	}
	info, err := store.Put(r.Context(), bucket, key, body, obs.PutOptions{ContentType: ct})
	if err != nil {
		return objectErr(err, bucket, key)
	}
	w.Header().Set("ETag", strconv.Quote(info.ETag))
	return WriteJSON(w, http.StatusOK, toObjectJSON(info))
}

// getObject answers GET and HEAD …/objects/{key...}, with a single byte
// range when the request has a Range header (multiple ranges are ignored:
// the whole object is sent, which HTTP allows).
func (s *Server) getObject(w http.ResponseWriter, r *http.Request, c *Call) error {
	store := s.cfg.Objects
	bucket, key, err := authorizedObject(r, c)
	if err != nil {
		return err
	}
	ctx := r.Context()
	spec, ok := parseRange(r.Header.Get("Range"))
	var rng *obs.Range
	if ok {
		rng = &obs.Range{Offset: spec.start, Length: -1}
		switch {
		case spec.suffix:
			info, err := store.Head(ctx, bucket, key)
			if err != nil {
				return objectErr(err, bucket, key)
			}
			if spec.length == 0 || info.Size == 0 {
				return rangeNotSatisfiable(w, info.Size)
			}
			rng.Offset = max(0, info.Size-spec.length)
		case spec.end >= 0:
			rng.Length = spec.end - spec.start + 1
		}
	}
	if r.Method == http.MethodHead && rng == nil {
		info, err := store.Head(ctx, bucket, key)
		if err != nil {
			return objectErr(err, bucket, key)
		}
		objectHeaders(w, info)
		w.Header().Set("Content-Length", strconv.FormatInt(info.Size, 10))
		w.WriteHeader(http.StatusOK)
		return nil
	}
	rc, info, err := store.Get(ctx, bucket, key, rng)
	if errors.Is(err, obs.ErrInvalidRange) {
		if h, herr := store.Head(ctx, bucket, key); herr == nil {
			return rangeNotSatisfiable(w, h.Size)
		}
	}
	if err != nil {
		return objectErr(err, bucket, key)
	}
	defer rc.Close()
	objectHeaders(w, info)
	status, n := http.StatusOK, info.Size
	if rng != nil {
		n, _ = rng.Resolve(info.Size)
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", rng.Offset, rng.Offset+n-1, info.Size))
		status = http.StatusPartialContent
	}
	w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return nil
	}
	if _, err := io.Copy(w, rc); err != nil {
		return fmt.Errorf("send object %s/%s: %w", bucket, key, err)
	}
	return nil
}

func objectHeaders(w http.ResponseWriter, info obs.ObjectInfo) {
	h := w.Header()
	ct := info.ContentType
	if ct == "" {
		ct = obs.DefaultContentType(info.Key)
	}
	h.Set("Content-Type", ct)
	h.Set("ETag", strconv.Quote(info.ETag))
	h.Set("Last-Modified", info.ModTime.UTC().Format(http.TimeFormat))
	h.Set("Accept-Ranges", "bytes")
}

func rangeNotSatisfiable(w http.ResponseWriter, size int64) error {
	w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", size))
	return Errorf(http.StatusRequestedRangeNotSatisfiable, codeInvalidRange, "The requested range is not satisfiable for an object of %d bytes.", size)
}

// byteRange is one parsed "bytes=" range: start-end (end -1 for open),
// or the last length bytes (suffix).
type byteRange struct {
	start, end int64
	suffix     bool
	length     int64
}

// parseRange parses a Range header of one byte range; ok is false when
// there is none, it has several ranges or it is malformed (then the whole
// object is sent, as HTTP allows).
func parseRange(h string) (br byteRange, ok bool) {
	spec, found := strings.CutPrefix(strings.TrimSpace(h), "bytes=")
	if !found || strings.Contains(spec, ",") {
		return byteRange{}, false
	}
	first, last, found := strings.Cut(strings.TrimSpace(spec), "-")
	if !found {
		return byteRange{}, false
	}
	num := func(s string) (int64, bool) {
		n, err := strconv.ParseInt(s, 10, 64)
		return n, err == nil && n >= 0 && s != "" && s[0] != '+'
	}
	if first == "" {
		n, ok := num(last)
		return byteRange{suffix: true, length: n}, ok
	}
	start, ok := num(first)
	if !ok {
		return byteRange{}, false
	}
	if last == "" {
		return byteRange{start: start, end: -1}, true
	}
	end, ok := num(last)
	if !ok || end < start {
		return byteRange{}, false
	}
	return byteRange{start: start, end: end}, true
}

// deleteObject answers DELETE …/objects/{key...}: 204, also when the object
// does not exist (as in OBS); 404 when the bucket does not.
func (s *Server) deleteObject(w http.ResponseWriter, r *http.Request, c *Call) error {
	store := s.cfg.Objects
	bucket, key, err := authorizedObject(r, c)
	if err != nil {
		return err
	}
	if err := store.Delete(r.Context(), bucket, key); err != nil {
		return objectErr(err, bucket, key)
	}
	return noContent(w)
}
