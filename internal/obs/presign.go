package obs

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// PresignHandler serves GET and HEAD of PresignPath + "{bucket}/{key...}"
// from store, for URLs made by signer: mount it at PresignPath without
// stripping the prefix. It answers
//
//   - 200 with Content-Type, Content-Length, ETag, Last-Modified and
//     Accept-Ranges, or 304 for a matching If-None-Match or
//     If-Modified-Since;
//   - 206 for a satisfiable single byte range ("bytes=a-b", "bytes=a-",
//     "bytes=-n", honouring If-Range), 416 for an unsatisfiable one; other
//     Range headers, multi-range included, get the whole object (RFC 9110
//     allows ignoring them);
//   - 403 for a missing, bad or expired signature, 404 for a missing
//     object or bucket, 400 for a malformed path, 405 for other methods;
//
// with errors as S3-style XML (<Error><Code>…</Code><Message>…</Message>).
// Because the content is served from Atelier's own origin, responses carry
// "Content-Security-Policy: sandbox" and "X-Content-Type-Options: nosniff",
// so an uploaded HTML or SVG file cannot run script as Atelier.
func PresignHandler(store Store, signer *URLSigner) http.Handler {
	return &presignHandler{store: store, signer: signer}
}

type presignHandler struct {
	store  Store
	signer *URLSigner
}

func (h *presignHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeXMLError(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "Only GET and HEAD are allowed on presigned URLs.")
		return
	}
	bucket, key, ok := splitPresignPath(r.URL.Path)
	if !ok {
		writeXMLError(w, http.StatusBadRequest, "InvalidURI", "The path is not "+PresignPath+"{bucket}/{key}.")
		return
	}
	q := r.URL.Query()
	if err := h.signer.Verify(bucket, key, q.Get(presignExpiresParam), q.Get(presignSignatureParam)); err != nil {
		msg := "The presigned URL signature does not match."
		if errors.Is(err, ErrSignatureExpired) {
			msg = "The presigned URL has expired."
		}
		writeXMLError(w, http.StatusForbidden, "AccessDenied", msg)
		return
	}
	ctx := r.Context()
	info, err := h.store.Head(ctx, bucket, key)
	if err != nil {
		writeStoreError(ctx, w, bucket, key, err)
		return
	}

	hdr := w.Header()
	hdr.Set("Accept-Ranges", "bytes")
	hdr.Set("ETag", quoteETag(info.ETag))
	hdr.Set("Last-Modified", info.ModTime.UTC().Format(http.TimeFormat))
	hdr.Set("Content-Security-Policy", "sandbox")
	hdr.Set("X-Content-Type-Options", "nosniff")
	if notModified(r, info) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	hdr.Set("Content-Type", info.ContentType)

	var rng *Range
	if r.Method == http.MethodGet && ifRangeHolds(r, info) {
		var satisfiable bool
		rng, satisfiable = parseRange(r.Header.Get("Range"), info.Size)
		if !satisfiable {
			hdr.Set("Content-Range", "bytes */"+strconv.FormatInt(info.Size, 10))
			writeXMLError(w, http.StatusRequestedRangeNotSatisfiable, "InvalidRange", "The requested range is not satisfiable.")
			return
		}
	}
	if r.Method == http.MethodHead {
		hdr.Set("Content-Length", strconv.FormatInt(info.Size, 10))
		w.WriteHeader(http.StatusOK)
		return
	}

	body, got, err := h.store.Get(ctx, bucket, key, rng)
	if err != nil {
		if errors.Is(err, ErrInvalidRange) { // the object shrank since Head
			hdr.Set("Content-Range", "bytes */"+strconv.FormatInt(got.Size, 10))
			writeXMLError(w, http.StatusRequestedRangeNotSatisfiable, "InvalidRange", "The requested range is not satisfiable.")
			return
		}
		writeStoreError(ctx, w, bucket, key, err)
		return
	}
	defer body.Close()
	// Describe what Get returned, which may be newer than what Head saw.
	hdr.Set("ETag", quoteETag(got.ETag))
	hdr.Set("Last-Modified", got.ModTime.UTC().Format(http.TimeFormat))
	hdr.Set("Content-Type", got.ContentType)
	status, n := http.StatusOK, got.Size
	if rng != nil {
		n, _ = rng.Resolve(got.Size)
		hdr.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", rng.Offset, rng.Offset+n-1, got.Size))
		status = http.StatusPartialContent
	}
	hdr.Set("Content-Length", strconv.FormatInt(n, 10))
	w.WriteHeader(status)
	io.Copy(w, body) // the status is sent; a failure can only cut the body short
}

// splitPresignPath splits "/obs-presigned/bucket/key" into a valid bucket
// and object key.
func splitPresignPath(p string) (bucket, key string, ok bool) {
	rest, ok := strings.CutPrefix(p, PresignPath)
	if !ok {
		return "", "", false
	}
	bucket, key, _ = strings.Cut(rest, "/")
	if ValidateBucketName(bucket) != nil || ValidateObjectKey(key) != nil {
		return "", "", false
	}
	return bucket, key, true
}

// parseRange interprets a Range header for an object of size bytes. It
// returns nil when the whole object should be sent (no header, or one this
// handler ignores) and satisfiable false when the range lies outside the
// object.
func parseRange(h string, size int64) (rng *Range, satisfiable bool) {
	spec, ok := strings.CutPrefix(h, "bytes=")
	if !ok || strings.Contains(spec, ",") {
		return nil, true
	}
	first, last, ok := strings.Cut(strings.TrimSpace(spec), "-")
	if !ok {
		return nil, true
	}
	num := func(s string) (int64, bool) {
		if s == "" || strings.Trim(s, "0123456789") != "" {
			return 0, false
		}
		n, err := strconv.ParseInt(s, 10, 64)
		return n, err == nil
	}
	if first == "" { // suffix: the last n bytes
		n, ok := num(last)
		if !ok {
			return nil, true
		}
		if n == 0 || size == 0 {
			return nil, false
		}
		n = min(n, size)
		return &Range{Offset: size - n, Length: n}, true
	}
	off, ok := num(first)
	if !ok {
		return nil, true
	}
	length := int64(-1)
	if last != "" {
		end, ok := num(last)
		if !ok || end < off {
			return nil, true
		}
		length = end - off + 1
	}
	if off >= size {
		return nil, false
	}
	return &Range{Offset: off, Length: length}, true
}

// notModified evaluates If-None-Match, or If-Modified-Since without it.
func notModified(r *http.Request, info ObjectInfo) bool {
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		for t := range strings.SplitSeq(inm, ",") {
			t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
			if t == "*" || t == quoteETag(info.ETag) {
				return true
			}
		}
		return false
	}
	if ims := r.Header.Get("If-Modified-Since"); ims != "" {
		t, err := http.ParseTime(ims)
		return err == nil && !info.ModTime.Truncate(time.Second).After(t)
	}
	return false
}

// ifRangeHolds reports whether a Range header may be honoured: there is no
// If-Range, or it names the current ETag (strongly) or Last-Modified.
func ifRangeHolds(r *http.Request, info ObjectInfo) bool {
	ir := r.Header.Get("If-Range")
	switch {
	case ir == "":
		return true
	case strings.HasPrefix(ir, `"`):
		return ir == quoteETag(info.ETag)
	}
	t, err := http.ParseTime(ir)
	return err == nil && info.ModTime.Truncate(time.Second).Equal(t)
}

func quoteETag(etag string) string { return `"` + etag + `"` }

// writeStoreError answers for a Store error without revealing its text,
// and logs the ones that are the server's fault.
func writeStoreError(ctx context.Context, w http.ResponseWriter, bucket, key string, err error) {
	switch {
	case errors.Is(err, ErrNotFound):
		writeXMLError(w, http.StatusNotFound, "NoSuchKey", "The specified key does not exist.")
	case errors.Is(err, ErrBucketNotFound):
		writeXMLError(w, http.StatusNotFound, "NoSuchBucket", "The specified bucket does not exist.")
	case errors.Is(err, ErrInvalidKey), errors.Is(err, ErrInvalidBucket):
		writeXMLError(w, http.StatusBadRequest, "InvalidURI", "The bucket or key is not valid.")
	default:
		slog.ErrorContext(ctx, "presigned GET", "bucket", bucket, "key", key, "err", err)
		writeXMLError(w, http.StatusInternalServerError, "InternalError", "We encountered an internal error. Please try again.")
	}
}

type xmlError struct {
	XMLName xml.Name `xml:"Error"`
	Code    string
	Message string
}

func writeXMLError(w http.ResponseWriter, status int, code, msg string) {
	b, _ := xml.Marshal(xmlError{Code: code, Message: msg})
	h := w.Header()
	for _, k := range []string{"ETag", "Last-Modified", "Accept-Ranges"} {
		h.Del(k)
	}
	h.Set("Content-Type", "application/xml")
	h.Set("Content-Length", strconv.Itoa(len(xml.Header)+len(b)))
	w.WriteHeader(status)
	io.WriteString(w, xml.Header)
	w.Write(b)
}
