package versions

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/atelier-dev/atelier/internal/obs"
)

// partWriter streams one part into an object.
type partWriter struct {
	pw   *io.PipeWriter
	bw   *bufio.Writer
	done chan error
}

func (j *manifestJob) openPart(ctx context.Context, temp obs.Path, n int) *partWriter {
	pr, pw := io.Pipe()
	w := &partWriter{pw: pw, bw: bufio.NewWriterSize(pw, 256<<10), done: make(chan error, 1)}
	key := temp.Key + fmt.Sprintf("part-%06d", n)
	go func() {
		_, err := j.s.objects.Put(ctx, temp.Bucket, key, pr, obs.PutOptions{ContentType: "application/json"})
		// A Put that failed early must not leave the writer blocked.
		pr.CloseWithError(err)
		w.done <- err
	}()
	return w
}

func (w *partWriter) write(b []byte) error {
	_, err := w.bw.Write(b)
	return err
}

func (w *partWriter) close() error {
	if err := w.bw.Flush(); err != nil {
		w.pw.CloseWithError(err)
		<-w.done
		return err
	}
	w.pw.Close()
	return <-w.done
}

// abort ends the part without storing it: a Put that reads an error keeps
// the previous object, if any.
func (w *partWriter) abort(err error) {
	w.pw.CloseWithError(err)
	<-w.done
}

// concat publishes the manifest: the parts one after the other, in one
// atomic Put, indexing where lines start on the way.
func (j *manifestJob) concat(ctx context.Context, temp obs.Path, parts int) (*manifestIndex, error) {
	pr := &partsReader{ctx: ctx, objects: j.s.objects, dir: temp, n: parts}
	defer pr.close()
	ir := &indexingReader{r: pr, stride: lineStride}
	if _, err := j.s.objects.Put(ctx, j.manifest.Bucket, j.manifest.Key, ir, obs.PutOptions{ContentType: "application/json"}); err != nil {
		return nil, fmt.Errorf("write manifest %s: %w", j.manifest, err)
	}
	return &manifestIndex{offsets: ir.index, size: ir.off}, nil
}

// partsReader reads parts 1..n in order.
type partsReader struct {
	ctx     context.Context
	objects obs.Store
	dir     obs.Path
	n, i    int
	cur     io.ReadCloser
}

func (r *partsReader) Read(p []byte) (int, error) {
	for {
		if r.cur == nil {
			if r.i >= r.n {
				return 0, io.EOF
			}
			r.i++
			key := r.dir.Key + fmt.Sprintf("part-%06d", r.i)
			rc, _, err := r.objects.Get(r.ctx, r.dir.Bucket, key, nil)
			if err != nil {
				return 0, fmt.Errorf("read manifest part %d: %w", r.i, err)
			}
			r.cur = rc
		}
		n, err := r.cur.Read(p)
		if errors.Is(err, io.EOF) {
			r.cur.Close()
			r.cur = nil
			err = nil
			if n == 0 {
				continue
			}
		}
		return n, err
	}
}

func (r *partsReader) close() {
	if r.cur != nil {
		r.cur.Close()
	}
}

// indexingReader records the byte offset of every stride-th line start.
type indexingReader struct {
	r      io.Reader
	stride int64
	off    int64
	lines  int64
	index  []int64
}

func (r *indexingReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	b := p[:n]
	base := r.off
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			break
		}
		base += int64(i) + 1
		b = b[i+1:]
		r.lines++
		if r.lines%r.stride == 0 {
			r.index = append(r.index, base)
		}
	}
	r.off += int64(n)
	return n, err
}
