package kube

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"

	"github.com/atelier-dev/atelier/internal/training/executor"
)

// handleVersion changes when handleData does in a way older code cannot
// read; handles are stored by the caller.
const handleVersion = 1

// handleData is a Handle's JSON content. Field names are stable.
type handleData struct {
	Version   int    `json:"v"`
	Namespace string `json:"ns"`
	Job       string `json:"job"` // the Kubernetes Job's name
	JobUID    string `json:"job_uid"`
	Index     int    `json:"index"`
	Task      string `json:"task"`
	ExitFile  string `json:"exit_file"`
	LogFile   string `json:"log_file"`
}

func (d handleData) encode() executor.Handle { return executor.EncodeHandle(d) }

func decodeHandle(h executor.Handle) (handleData, error) {
	var d handleData
	if err := executor.DecodeHandle(h, &d); err != nil {
		return handleData{}, fmt.Errorf("decode kubernetes handle: %w", err)
	}
	switch {
	case d.Version != handleVersion:
		return handleData{}, fmt.Errorf("decode kubernetes handle: unknown version %d", d.Version)
	case d.Namespace == "" || d.Job == "" || d.Index < 0:
		return handleData{}, errors.New("decode kubernetes handle: no job")
	case !filepath.IsAbs(d.ExitFile) || !filepath.IsAbs(d.LogFile):
		return handleData{}, errors.New("decode kubernetes handle: paths are not absolute")
	}
	return d, nil
}

// exitRecord is what State writes at ExitCodePath once a task ended.
type exitRecord struct {
	ExitCode  int       `json:"exit_code"`
	Signal    string    `json:"signal,omitempty"`
	StartedAt time.Time `json:"started_at"`
	EndedAt   time.Time `json:"ended_at"`
}

func readRecord(path string) (*exitRecord, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read exit record: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 4096))
	if err != nil {
		return nil, fmt.Errorf("read exit record: %w", err)
	}
	var r exitRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("read exit record %s: %w", path, err)
	}
	return &r, nil
}

// recorded reports whether a task's exit record exists.
func recorded(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// writeFile replaces path's content atomically.
func writeFile(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func (r exitRecord) state() executor.State {
	return executor.State{Exited: true, ExitCode: r.ExitCode, Signal: r.Signal, StartedAt: r.StartedAt, EndedAt: r.EndedAt}
}

// pods lists the task's pods, newest first.
func (e *Executor) pods(ctx context.Context, d handleData) ([]corev1.Pod, error) {
	sel := labels.Set{LabelRun: d.Job, LabelIndex: strconv.Itoa(d.Index)}.String()
	l, err := e.opts.Client.CoreV1().Pods(d.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return nil, fmt.Errorf("list pods of task %s: %w", d.Task, err)
	}
	ps := l.Items
	for i := 1; i < len(ps); i++ {
		for j := i; j > 0 && ps[j].CreationTimestamp.After(ps[j-1].CreationTimestamp.Time); j-- {
			ps[j], ps[j-1] = ps[j-1], ps[j]
		}
	}
	return ps, nil
}

// State reads the task's exit record, or failing that its pod: see the
// package doc.
func (e *Executor) State(ctx context.Context, h executor.Handle) (executor.State, error) {
	d, err := decodeHandle(h)
	if err != nil {
		return executor.State{}, err
	}
	if r, err := readRecord(d.ExitFile); err != nil || r != nil {
		if err != nil {
			return executor.State{}, fmt.Errorf("state of task %s: %w", d.Task, err)
		}
		return r.state(), nil
	}
	ps, err := e.pods(ctx, d)
	if err != nil {
		return executor.State{}, fmt.Errorf("state of task %s: %w", d.Task, err)
	}
	if len(ps) == 0 {
		return e.noPod(ctx, d)
	}
	pod := &ps[0]
	cs := containerStatus(pod)
	switch {
	case cs != nil && cs.State.Terminated != nil:
		return e.ended(ctx, d, pod, cs.State.Terminated)
	case pod.Status.Phase == corev1.PodFailed || pod.Status.Phase == corev1.PodSucceeded,
		pod.DeletionTimestamp != nil && (cs == nil || cs.State.Running == nil):
		// Evicted, failed before its container ran, or deleted before it
		// started: nothing says how the task ended, and nothing will. The
		// pod may go now.
		e.stopCopier(pod.UID)
		if err := e.release(ctx, pod); err != nil {
			e.log.Warn("release pod", "pod", pod.Name, "err", err)
		}
		return executor.State{Lost: true, StartedAt: started(pod, cs)}, nil
	}
	if cs != nil && cs.State.Running != nil {
		e.ensureCopier(d, pod)
	}
	return executor.State{Running: true, StartedAt: started(pod, cs)}, nil
}

// noPod is the state of a task without a pod: not created yet while its Job
// runs, else lost.
func (e *Executor) noPod(ctx context.Context, d handleData) (executor.State, error) {
	job, err := e.opts.Client.BatchV1().Jobs(d.Namespace).Get(ctx, d.Job, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return executor.State{Lost: true}, nil
	}
	if err != nil {
		return executor.State{}, fmt.Errorf("state of task %s: get Job %s: %w", d.Task, d.Job, err)
	}
	if string(job.UID) != d.JobUID || job.DeletionTimestamp != nil {
		return executor.State{Lost: true}, nil
	}
	for _, c := range job.Status.Conditions {
		if (c.Type == "Failed" || c.Type == "Complete") && c.Status == corev1.ConditionTrue {
			return executor.State{Lost: true}, nil
		}
	}
	return executor.State{Running: true, StartedAt: job.CreationTimestamp.Time}, nil
}

// ended records a terminated container once its log is copied (or
// LogDrain has passed), then lets its pod go.
func (e *Executor) ended(ctx context.Context, d handleData, pod *corev1.Pod, t *corev1.ContainerStateTerminated) (executor.State, error) {
	c := e.ensureCopier(d, pod)
	if !c.finish(e.now(), e.opts.LogDrain) {
		// The last lines are still on their way to the log: the task
		// counts as running until they are there.
		return executor.State{Running: true, StartedAt: t.StartedAt.Time}, nil
	}
	r := exitRecord{ExitCode: int(t.ExitCode), Signal: executor.SignalName(int(t.ExitCode)), StartedAt: t.StartedAt.Time, EndedAt: t.FinishedAt.Time}
	if t.Signal != 0 && r.Signal == "" {
		r.Signal = executor.SignalName(128 + int(t.Signal))
	}
	if r.StartedAt.IsZero() {
		r.StartedAt = pod.CreationTimestamp.Time
	}
	if r.EndedAt.IsZero() {
		r.EndedAt = e.now()
	}
	b, _ := json.Marshal(r)
	if err := writeFile(d.ExitFile, b); err != nil {
		return executor.State{}, fmt.Errorf("state of task %s: record exit: %w", d.Task, err)
	}
	e.forgetCopier(pod.UID)
	if err := e.release(ctx, pod); err != nil {
		// Recorded: the pod may linger with the finalizer until an
		// operator removes it, but the task's state is known.
		e.log.Warn("remove the finalizer of an ended task's pod", "pod", pod.Name, "err", err)
	}
	return r.state(), nil
}

// release removes the executor's finalizer from the pod.
func (e *Executor) release(ctx context.Context, pod *corev1.Pod) error {
	i := -1
	for j, f := range pod.Finalizers {
		if f == Finalizer {
			i = j
		}
	}
	if i < 0 {
		return nil
	}
	// The test operation makes the patch fail rather than remove another
	// finalizer when the list changed since it was read.
	patch := fmt.Sprintf(`[{"op":"test","path":"/metadata/finalizers/%d","value":%q},{"op":"remove","path":"/metadata/finalizers/%d"}]`, i, Finalizer, i)
	_, err := e.opts.Client.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.JSONPatchType, []byte(patch), metav1.PatchOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("remove finalizer of pod %s: %w", pod.Name, err)
	}
	return nil
}

func containerStatus(pod *corev1.Pod) *corev1.ContainerStatus {
	for i := range pod.Status.ContainerStatuses {
		if pod.Status.ContainerStatuses[i].Name == ContainerName {
			return &pod.Status.ContainerStatuses[i]
		}
	}
	return nil
}

func started(pod *corev1.Pod, cs *corev1.ContainerStatus) time.Time {
	if cs != nil && cs.State.Running != nil && !cs.State.Running.StartedAt.IsZero() {
		return cs.State.Running.StartedAt.Time
	}
	if pod.Status.StartTime != nil {
		return pod.Status.StartTime.Time
	}
	return pod.CreationTimestamp.Time
}

// Terminate deletes the task's pods with the grace period (whole seconds,
// at least one: the kubelet sends SIGTERM, then SIGKILL after it), and the
// job's Job (background propagation: the garbage collector deletes the
// other tasks' pods with the pods' own grace) and Service. A task of a
// Kubernetes Job cannot be stopped alone: the training service always
// stops a job's tasks together. Deleting what is already gone is no error,
// so Terminate is idempotent.
func (e *Executor) Terminate(ctx context.Context, h executor.Handle, grace time.Duration) error {
	d, err := decodeHandle(h)
	if err != nil {
		return err
	}
	ps, err := e.pods(ctx, d)
	if err != nil {
		return fmt.Errorf("terminate task %s: %w", d.Task, err)
	}
	secs := graceSeconds(grace)
	// The pods, the Job and the Service are deleted at once: Terminate
	// returns when the signal is on its way, two round trips after it
	// was called.
	var wg sync.WaitGroup
	errs := make([]error, len(ps)+1)
	for i, p := range ps {
		if cs := containerStatus(&p); cs != nil && cs.State.Terminated != nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			uid := p.UID
			err := e.opts.Client.CoreV1().Pods(d.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: &secs,
				Preconditions: &metav1.Preconditions{UID: &uid}})
			if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
				errs[i] = fmt.Errorf("delete pod %s: %w", p.Name, err)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		bg := metav1.DeletePropagationBackground
		errs[len(ps)] = e.deleteRun(ctx, d.Job, &bg)
	}()
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("terminate task %s: %w", d.Task, err)
	}
	e.log.Info("task terminating", "task", d.Task, "kubernetes_job", d.Job, "grace_seconds", secs)
	return nil
}

// podMetrics is the part of metrics.k8s.io/v1beta1 PodMetrics Usage reads.
type podMetrics struct {
	Timestamp  metav1.Time `json:"timestamp"`
	Containers []struct {
		Name  string              `json:"name"`
		Usage corev1.ResourceList `json:"usage"`
	} `json:"containers"`
}

// ErrNoMetrics reports that the cluster serves no resource metrics API
// (metrics-server is not installed) or the executor may not read it.
var ErrNoMetrics = errors.New("the cluster's resource metrics API (metrics.k8s.io, served by metrics-server) is not available")

// Usage reads the task container's CPU and memory from the resource
// metrics API (metrics-server's averages over its window). A task that is
// not running uses nothing.
func (e *Executor) Usage(ctx context.Context, h executor.Handle) (executor.Usage, error) {
	d, err := decodeHandle(h)
	if err != nil {
		return executor.Usage{}, err
	}
	u := executor.Usage{At: e.now()}
	ps, err := e.pods(ctx, d)
	if err != nil {
		return executor.Usage{}, fmt.Errorf("usage of task %s: %w", d.Task, err)
	}
	if len(ps) == 0 {
		return u, nil
	}
	if cs := containerStatus(&ps[0]); cs == nil || cs.State.Running == nil {
		return u, nil
	}
	raw, err := e.opts.Client.CoreV1().RESTClient().Get().
		AbsPath("/apis/metrics.k8s.io/v1beta1/namespaces", d.Namespace, "pods", ps[0].Name).DoRaw(ctx)
	if err != nil {
		if apierrors.IsNotFound(err) || apierrors.IsForbidden(err) || apierrors.IsServiceUnavailable(err) {
			return executor.Usage{}, fmt.Errorf("usage of task %s: %w: %v", d.Task, ErrNoMetrics, err)
		}
		return executor.Usage{}, fmt.Errorf("usage of task %s: %w", d.Task, err)
	}
	var m podMetrics
	if err := json.Unmarshal(raw, &m); err != nil {
		return executor.Usage{}, fmt.Errorf("usage of task %s: decode pod metrics: %w", d.Task, err)
	}
	for _, c := range m.Containers {
		if c.Name != ContainerName {
			continue
		}
		if q, ok := c.Usage[corev1.ResourceCPU]; ok {
			u.CPUPercent = float64(q.MilliValue()) / 10
		}
		if q, ok := c.Usage[corev1.ResourceMemory]; ok {
			u.MemoryMiB = float64(q.Value()) / (1 << 20)
		}
	}
	if !m.Timestamp.IsZero() {
		u.At = m.Timestamp.Time
	}
	return u, nil
}
