package s3store_test

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/atelier-dev/atelier/internal/obs"
	"github.com/atelier-dev/atelier/internal/obs/obstest"
	"github.com/atelier-dev/atelier/internal/obs/s3store"
)

// stubS3 answers just the requests of a multipart Put and of a Get, and
// keeps nothing: it hashes the parts it receives and serves size zero
// bytes. Its Get ignores Range, as some servers do.
type stubS3 struct {
	size     int64
	received atomic.Int64
	parts    atomic.Int64
}

func (st *stubS3) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	const ns = `xmlns="http://s3.amazonaws.com/doc/2006-03-01/"`
	switch {
	case r.Method == http.MethodPost && q.Has("uploads"):
		fmt.Fprintf(w, `<InitiateMultipartUploadResult %s><Bucket>stub</Bucket><Key>big</Key><UploadId>u1</UploadId></InitiateMultipartUploadResult>`, ns)
	case r.Method == http.MethodPut && q.Has("partNumber"):
		h := md5.New()
		n, _ := io.Copy(h, r.Body)
		st.received.Add(n)
		st.parts.Add(1)
		w.Header().Set("ETag", `"`+hex.EncodeToString(h.Sum(nil))+`"`)
	case r.Method == http.MethodPost && q.Has("uploadId"):
		io.Copy(io.Discard, r.Body)
		fmt.Fprintf(w, `<CompleteMultipartUploadResult %s><Bucket>stub</Bucket><Key>big</Key><ETag>"0123456789abcdef0123456789abcdef-7"</ETag></CompleteMultipartUploadResult>`, ns)
	case r.Method == http.MethodGet:
		h := w.Header()
		h.Set("Content-Length", fmt.Sprint(st.size))
		h.Set("Content-Type", "application/octet-stream")
		h.Set("ETag", `"0123456789abcdef0123456789abcdef-7"`)
		h.Set("Last-Modified", time.Now().UTC().Format(http.TimeFormat))
		io.CopyN(w, zeros{}, st.size)
	default:
		http.Error(w, "not in the stub", http.StatusNotImplemented)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// TestPutGetMemory checks that Put and Get stream a 50 MiB object through
// a bounded amount of memory. The contract suite's large-object case
// checks this against a real server; gofakes3, in the test's process,
// holds the object itself.
func TestPutGetMemory(t *testing.T) {
	size := int64(50 << 20)
	if testing.Short() {
		size = 20 << 20
	}
	stub := &stubS3{size: size}
	s := newStore(t, s3store.Config{Endpoint: newServer(t, stub), AccessKey: "a", SecretKey: "s", PathStyle: true})
	c := t.Context()

	peak := obstest.PeakHeap(func() {
		info, err := s.Put(c, "stub", "big", io.LimitReader(zeros{}, size), obs.PutOptions{})
		if err != nil {
			t.Errorf("Put: %v", err)
			return
		}
		if info.Size != size || !strings.HasSuffix(info.ETag, "-7") || stub.received.Load() != size {
			t.Errorf("Put = %+v; stub received %d bytes", info, stub.received.Load())
		}
		if want := (size + s3store.DefaultPartSize - 1) / s3store.DefaultPartSize; stub.parts.Load() != want {
			t.Errorf("Put sent %d parts, want %d", stub.parts.Load(), want)
		}
		rc, info, err := s.Get(c, "stub", "big", nil)
		if err != nil {
			t.Errorf("Get: %v", err)
			return
		}
		n, err := io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil || n != size || info.Size != size {
			t.Errorf("Get: read %d bytes, %v; info %+v", n, err, info)
		}
		// The stub answers a range with the whole object: the store
		// skips to the range.
		rc, info, err = s.Get(c, "stub", "big", &obs.Range{Offset: size - 1000, Length: 600})
		if err != nil {
			t.Errorf("Get range: %v", err)
			return
		}
		n, err = io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil || n != 600 || info.Size != size {
			t.Errorf("Get range: read %d bytes, %v; info %+v", n, err, info)
		}
	})
	if limit := uint64(size / 2); peak > limit {
		t.Errorf("heap grew by %d MiB while streaming a %d MiB object; want at most %d MiB", peak>>20, size>>20, limit>>20)
	}
	t.Logf("heap grew by at most %d KiB", peak>>10)
}
