package kube

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// LogSource streams a container's log. Each line starts with its time
// (RFC 3339 with nanoseconds) and a space, as the Pod log API gives it with
// timestamps; the stream follows the container while it runs and ends
// after its last line once it has ended. since, when not zero, may drop
// the lines before it (the API's resolution is a second: the copier skips
// what it already has).
type LogSource interface {
	Stream(ctx context.Context, namespace, pod, container string, since time.Time) (io.ReadCloser, error)
}

// podLogs is the Pod log API.
type podLogs struct{ client kubernetes.Interface }

func (p podLogs) Stream(ctx context.Context, namespace, pod, container string, since time.Time) (io.ReadCloser, error) {
	o := &corev1.PodLogOptions{Container: container, Follow: true, Timestamps: true}
	if !since.IsZero() {
		o.SinceTime = &metav1.Time{Time: since}
	}
	return p.client.CoreV1().Pods(namespace).GetLogs(pod, o).Stream(ctx)
}

// logPos is how far a task's log was copied: the time of the last line
// copied and how many lines copied had that time.
type logPos struct {
	At    time.Time `json:"at"`
	Lines int       `json:"lines"`
}

// copier appends one pod's log to its task's log file.
type copier struct {
	ns, pod string
	logPath string
	posPath string
	src     LogSource
	cancel  context.CancelFunc
	doneCh  chan struct{}
	logger  func(msg string, args ...any)
	// ended reports whether the container has ended (or its pod is gone):
	// asked when a stream ends before State has said so.
	ended    func(ctx context.Context) bool
	mu       sync.Mutex
	endedAt  time.Time // when State first saw the container ended
	done     bool      // everything is copied (or copying gave up)
	pos      logPos
	lastSave time.Time
}

// ensureCopier returns the pod's copier, starting one if none runs.
func (e *Executor) ensureCopier(d handleData, pod *corev1.Pod) *copier {
	e.mu.Lock()
	defer e.mu.Unlock()
	if c, ok := e.copiers[string(pod.UID)]; ok {
		return c
	}
	c := &copier{ns: pod.Namespace, pod: pod.Name, logPath: d.LogFile, posPath: d.ExitFile + ".logpos", src: e.opts.Logs,
		doneCh: make(chan struct{}), logger: e.log.Warn}
	c.ended = func(ctx context.Context) bool {
		l, err := e.opts.Client.CoreV1().Pods(c.ns).List(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + c.pod})
		if err != nil {
			return false
		}
		for _, p := range l.Items {
			if p.UID == pod.UID {
				cs := containerStatus(&p)
				return cs != nil && cs.State.Terminated != nil
			}
		}
		return true // gone
	}
	// Closed, or the task's end already recorded (the log complete: the
	// copier that did it is forgotten, and a late caller, such as follow
	// seeing the ended pod, must not copy again beside the record).
	if e.closed || recorded(d.ExitFile) {
		c.done = true
		close(c.doneCh)
		return c
	}
	if b, err := os.ReadFile(c.posPath); err == nil {
		_ = json.Unmarshal(b, &c.pos)
	}
	var ctx context.Context
	ctx, c.cancel = context.WithCancel(e.ctx)
	e.copiers[string(pod.UID)] = c
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		defer close(c.doneCh)
		c.run(ctx)
	}()
	return c
}

// follow waits in the background for the task's pod to start and starts
// its log copier, so that the log fills while the task runs whether or not
// the caller asks for its state meanwhile. It gives up when the task's Job
// is gone without a pod, or when the executor closes; State starts copiers
// too (after a restart, say).
func (e *Executor) follow(d handleData) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return
	}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		wait := 100 * time.Millisecond
		for {
			select {
			case <-e.ctx.Done():
				return
			case <-time.After(wait):
			}
			wait = min(2*wait, 2*time.Second)
			ps, err := e.pods(e.ctx, d)
			if err != nil {
				continue
			}
			if len(ps) > 0 {
				if cs := containerStatus(&ps[0]); cs != nil && (cs.State.Running != nil || cs.State.Terminated != nil) {
					e.ensureCopier(d, &ps[0])
					return
				}
				if ps[0].DeletionTimestamp != nil || ps[0].Status.Phase == corev1.PodFailed {
					return
				}
				continue
			}
			if _, err := e.opts.Client.BatchV1().Jobs(d.Namespace).Get(e.ctx, d.Job, metav1.GetOptions{}); apierrors.IsNotFound(err) {
				return
			}
		}
	}()
}

// forgetCopier drops a finished copier.
func (e *Executor) forgetCopier(uid types.UID) {
	e.mu.Lock()
	delete(e.copiers, string(uid))
	e.mu.Unlock()
}

// stopCopier stops a pod's copier, if any.
func (e *Executor) stopCopier(uid types.UID) {
	e.mu.Lock()
	c := e.copiers[string(uid)]
	delete(e.copiers, string(uid))
	e.mu.Unlock()
	if c != nil && c.cancel != nil {
		c.cancel()
		<-c.doneCh
	}
}

// finish tells the copier its container has ended and reports whether the
// log is complete: true once a stream begun after the end has been read to
// its end, or drain after the end was first seen (the log then says what
// is missing).
func (c *copier) finish(now time.Time, drain time.Duration) bool {
	c.mu.Lock()
	if c.endedAt.IsZero() {
		c.endedAt = now
	}
	done, late := c.done, now.Sub(c.endedAt) > drain
	c.mu.Unlock()
	if done {
		// done is set before run's last save of the log position: wait
		// for it, so that nothing writes beside the exit record once the
		// task is reported ended (a caller may then remove the files).
		<-c.doneCh
		return true
	}
	if !late {
		return false
	}
	c.cancel()
	<-c.doneCh
	c.note(fmt.Sprintf("atelier: the rest of this task's log could not be read from Kubernetes within %v of its end\n", drain))
	return true
}

// run copies streams until one begun after the container ended is
// complete, or the pod is gone.
func (c *copier) run(ctx context.Context) {
	defer c.savePos()
	for {
		c.mu.Lock()
		ended := !c.endedAt.IsZero()
		c.mu.Unlock()
		err := c.copyOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		if err == nil && ended {
			c.mu.Lock()
			c.done = true
			c.mu.Unlock()
			return
		}
		if apierrors.IsNotFound(err) {
			c.note("atelier: the rest of this task's log is lost: its pod was deleted\n")
			c.mu.Lock()
			c.done = true
			c.mu.Unlock()
			return
		}
		if err != nil {
			c.logger("copy task log", "pod", c.pod, "err", err)
		} else if !ended && c.ended(ctx) {
			// The stream ended with the container and nobody asked for
			// the task's state yet: one more stream (begun after the end)
			// completes the log.
			c.mu.Lock()
			if c.endedAt.IsZero() {
				c.endedAt = time.Now()
			}
			c.mu.Unlock()
			continue
		}
		// The stream ended while the container ran (the API server or
		// kubelet closed it) or failed: follow it again.
		select {
		case <-ctx.Done():
			return
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// copyOnce appends one stream's new lines to the log.
func (c *copier) copyOnce(ctx context.Context) error {
	c.mu.Lock()
	pos := c.pos
	c.mu.Unlock()
	rc, err := c.src.Stream(ctx, c.ns, c.pod, ContainerName, pos.At)
	if err != nil {
		return fmt.Errorf("stream log of pod %s: %w", c.pod, err)
	}
	defer rc.Close()
	// The log directory is the server's, read-only to tasks; no link is
	// followed there all the same.
	f, err := os.OpenFile(c.logPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE|syscall.O_NOFOLLOW, 0o644)
	if err != nil {
		return fmt.Errorf("open task log: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(rc, 64<<10)
	var cur time.Time
	var n int
	for {
		line, rerr := r.ReadBytes('\n')
		if len(line) > 0 {
			text, at, ok := splitTimestamp(line)
			if ok {
				if at.Equal(cur) {
					n++
				} else {
					cur, n = at, 1
				}
				if at.Before(pos.At) || at.Equal(pos.At) && n <= pos.Lines {
					goto next
				}
				pos = logPos{At: at, Lines: n}
			}
			if _, err := f.Write(text); err != nil {
				return fmt.Errorf("write task log: %w", err)
			}
			c.mu.Lock()
			c.pos = pos
			c.mu.Unlock()
			if time.Since(c.lastSave) > time.Second {
				c.savePos()
			}
		}
	next:
		if rerr == io.EOF {
			c.savePos()
			return nil
		}
		if rerr != nil {
			c.savePos()
			return fmt.Errorf("read log of pod %s: %w", c.pod, rerr)
		}
	}
}

// splitTimestamp cuts the API's "<RFC 3339 time> " prefix off a line.
func splitTimestamp(line []byte) ([]byte, time.Time, bool) {
	i := bytes.IndexByte(line, ' ')
	if i <= 0 {
		return line, time.Time{}, false
	}
	at, err := time.Parse(time.RFC3339Nano, string(line[:i]))
	if err != nil {
		return line, time.Time{}, false
	}
	return line[i+1:], at, true
}

func (c *copier) savePos() {
	c.mu.Lock()
	pos := c.pos
	c.mu.Unlock()
	c.lastSave = time.Now()
	if pos.At.IsZero() {
		return
	}
	b, _ := json.Marshal(pos)
	if err := writeFile(c.posPath, b); err != nil && !errors.Is(err, os.ErrNotExist) {
		c.logger("save task log position", "pod", c.pod, "err", err)
	}
}

// note appends a line of the executor's own to the task's log.
func (c *copier) note(s string) {
	f, err := os.OpenFile(c.logPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE|syscall.O_NOFOLLOW, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	_, _ = f.WriteString(s)
}
