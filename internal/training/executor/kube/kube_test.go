package kube_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/spf13/pflag"

	"github.com/atelier-dev/atelier/internal/config"
	"github.com/atelier-dev/atelier/internal/training/executor"
	"github.com/atelier-dev/atelier/internal/training/executor/executortest"
	"github.com/atelier-dev/atelier/internal/training/executor/kube"
)

const defaultImage = "registry.example/atelier-task:test"

var testFlavor = executor.Flavor{ID: "kubernetes.cpu.1u4g", Name: "1 vCPU", CPU: 1, MemoryMiB: 4096}

// newExecutor is the executor as the RBAC manifest's service account, with
// the jobs "claim" being the test's temporary directory, which the fake
// node's processes share.
func newExecutor(t *testing.T, change ...func(*kube.Options)) *kube.Executor {
	t.Helper()
	needCluster(t)
	c, err := kubernetes.NewForConfig(executorConfig)
	if err != nil {
		t.Fatal(err)
	}
	o := kube.Options{Client: c, Namespace: namespace, JobsDir: os.TempDir(), JobsClaim: "atelier-jobs", DefaultImage: defaultImage,
		ServiceAccount: "atelier-training", Flavors: []executor.Flavor{testFlavor}, Capacity: executor.Resources{CPU: 8, MemoryMiB: 32768},
		Grace: 2 * time.Second, Logs: node, LogDrain: 5 * time.Second}
	for _, f := range change {
		f(&o)
	}
	ex, err := kube.New(context.Background(), o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(ex.Close)
	return ex
}

func TestContract(t *testing.T) {
	needCluster(t)
	executortest.Run(t, func(t *testing.T) executor.Executor { return newExecutor(t) })
}

// jobOf is the Kubernetes Job a handle names.
func jobOf(t *testing.T, h executor.Handle) string {
	t.Helper()
	_, rest, ok := strings.Cut(string(h), `"job":"`)
	if !ok {
		t.Fatalf("handle %s names no job", h)
	}
	name, _, _ := strings.Cut(rest, `"`)
	return name
}

func TestObjects(t *testing.T) {
	ex := newExecutor(t, func(o *kube.Options) { o.MasterPort = 23456 })
	ctx := context.Background()
	jobDir := t.TempDir()
	code := filepath.Join(jobDir, "user-job-dir", "code")
	logs, status, out := filepath.Join(jobDir, "logs"), filepath.Join(jobDir, "status"), filepath.Join(jobDir, "outputs", "model")
	for _, d := range []string{code, logs, status, out} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	argv := []string{"python", "train.py", "--lr=$(HOME)", "$$x"}
	var tasks []executor.Task
	for i, id := range []string{"worker-0", "worker-1"} {
		tasks = append(tasks, executor.Task{ID: id, Index: i, Dir: code, Command: argv,
			Env:     map[string]string{"MA_JOB_DIR": filepath.Join(jobDir, "user-job-dir"), "MA_CURRENT_INSTANCE_NAME": "modelarts-job-x-" + id, "COST": "$5"},
			LogPath: filepath.Join(logs, id+".log"), ExitCodePath: filepath.Join(status, id+".exit")})
	}
	spec := executor.JobSpec{JobID: "0194a7c2-Job_ID", Image: "pytorch/pytorch:2.4.0",
		Flavor: executor.Flavor{ID: "kubernetes.gpu.1", CPU: 8, MemoryMiB: 32768, GPUs: 1},
		Mounts: []executor.Mount{{Path: filepath.Join(jobDir, "user-job-dir"), Writable: true}, {Path: logs}, {Path: out, Writable: true}},
		Tasks:  tasks}
	markHeld(t, "atelier-0194a7c2-job-id")
	hs, err := ex.Start(ctx, spec)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	name := jobOf(t, hs[0])
	t.Cleanup(func() { _ = ex.Terminate(ctx, hs[0], 0) })
	if !strings.HasPrefix(name, "atelier-0194a7c2-job-id-") || len(name) > 50 {
		t.Errorf("Job name %q: want atelier-<job id as a DNS label>-<suffix>, at most 50 characters", name)
	}
	job, err := admin.BatchV1().Jobs(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get Job: %v", err)
	}
	js := job.Spec
	if js.CompletionMode == nil || *js.CompletionMode != "Indexed" || *js.Completions != 2 || *js.Parallelism != 2 || *js.BackoffLimit != 0 {
		t.Errorf("Job spec: mode %v, completions %d, parallelism %d, backoffLimit %d; want Indexed, 2, 2, 0",
			js.CompletionMode, *js.Completions, *js.Parallelism, *js.BackoffLimit)
	}
	ps := js.Template.Spec
	if ps.RestartPolicy != corev1.RestartPolicyNever || ps.Subdomain != name || ps.ServiceAccountName != "atelier-training" {
		t.Errorf("pod spec: restartPolicy %s, subdomain %q, serviceAccount %q", ps.RestartPolicy, ps.Subdomain, ps.ServiceAccountName)
	}
	if ps.AutomountServiceAccountToken == nil || *ps.AutomountServiceAccountToken || ps.EnableServiceLinks == nil || *ps.EnableServiceLinks {
		t.Errorf("pods must get no service-account token and no service links: automount %v, service links %v",
			ps.AutomountServiceAccountToken, ps.EnableServiceLinks)
	}
	if ps.HostNetwork || ps.HostPID || ps.HostIPC {
		t.Errorf("pods use host namespaces")
	}
	for _, v := range ps.Volumes {
		if v.HostPath != nil || v.PersistentVolumeClaim == nil || v.PersistentVolumeClaim.ClaimName != "atelier-jobs" {
			t.Errorf("volume %+v: want only the jobs claim", v)
		}
	}
	if sc := ps.SecurityContext; sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser == nil || *sc.RunAsUser == 0 ||
		sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod security context %+v: want non-root with a uid, RuntimeDefault seccomp", sc)
	}
	if !slices.Contains(job.Spec.Template.Finalizers, kube.Finalizer) {
		t.Errorf("pod template finalizers %v lack %s", job.Spec.Template.Finalizers, kube.Finalizer)
	}
	c := ps.Containers[0]
	if c.Image != "pytorch/pytorch:2.4.0" || c.WorkingDir != code || len(c.Args) != 0 {
		t.Errorf("container: image %q, workingDir %q, args %q", c.Image, c.WorkingDir, c.Args)
	}
	if want := []string{"python", "train.py", "--lr=$$(HOME)", "$$$$x"}; !slices.Equal(c.Command, want) {
		t.Errorf("command %q, want %q (every $ escaped from Kubernetes' expansion)", c.Command, want)
	}
	if sc := c.SecurityContext; sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) != 0 {
		t.Errorf("container security context %+v: want no privilege escalation and every capability dropped", sc)
	}
	for res, want := range map[corev1.ResourceName]string{"cpu": "8", "memory": "32Gi", "nvidia.com/gpu": "1"} {
		req, lim := c.Resources.Requests[res], c.Resources.Limits[res]
		if req.String() != want || lim.String() != want {
			t.Errorf("%s: request %s, limit %s, want %s", res, req.String(), lim.String(), want)
		}
	}
	mounts := map[string]corev1.VolumeMount{}
	for _, m := range c.VolumeMounts {
		mounts[m.MountPath] = m
	}
	rel := func(p string) string { r, _ := filepath.Rel(os.TempDir(), p); return r }
	wantMounts := map[string]bool{filepath.Join(jobDir, "user-job-dir"): false, logs: true, out: false}
	if len(mounts) != len(wantMounts) {
		t.Errorf("volume mounts %+v, want exactly %v", c.VolumeMounts, wantMounts)
	}
	for p, ro := range wantMounts {
		m, ok := mounts[p]
		if !ok || m.SubPath != rel(p) || m.ReadOnly != ro || m.Name != ps.Volumes[0].Name {
			t.Errorf("mount at %s = %+v, want the claim's %s, read-only %v", p, m, rel(p), ro)
		}
	}
	env := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		env[e.Name] = e
	}
	want := map[string]string{
		"VC_WORKER_NUM": "2", "WORLD_SIZE": "2", "MA_NUM_HOSTS": "2", "MASTER_PORT": "23456",
		"VC_WORKER_HOSTS":          name + "-0." + name + "," + name + "-1." + name,
		"MASTER_ADDR":              name + "-0." + name,
		"MA_JOB_DIR":               filepath.Join(jobDir, "user-job-dir"),
		"MA_CURRENT_INSTANCE_NAME": "modelarts-job-x-worker-$(VC_TASK_INDEX)",
		"COST":                     "$$5",
	}
	for k, v := range want {
		if env[k].Value != v {
			t.Errorf("env %s = %q, want %q", k, env[k].Value, v)
		}
	}
	for k, field := range map[string]string{"VC_TASK_INDEX": "metadata.annotations['batch.kubernetes.io/job-completion-index']",
		"RANK": "metadata.annotations['batch.kubernetes.io/job-completion-index']", "MA_CURRENT_IP": "status.podIP"} {
		if e := env[k]; e.ValueFrom == nil || e.ValueFrom.FieldRef == nil || e.ValueFrom.FieldRef.FieldPath != field {
			t.Errorf("env %s = %+v, want from %s", k, e, field)
		}
	}
	if c.Env[0].Name != "VC_TASK_INDEX" {
		t.Errorf("VC_TASK_INDEX is not the first variable, so $(VC_TASK_INDEX) would not expand")
	}
	svc, err := admin.CoreV1().Services(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get Service: %v", err)
	}
	if svc.Spec.ClusterIP != corev1.ClusterIPNone || svc.Spec.Selector[kube.LabelRun] != name || !svc.Spec.PublishNotReadyAddresses {
		t.Errorf("Service spec %+v: want headless, selecting the job's pods, publishing not-ready addresses", svc.Spec)
	}
	if owner := metav1.GetControllerOf(svc); owner == nil || owner.UID != job.UID {
		t.Errorf("Service is not owned by the Job: %+v", svc.OwnerReferences)
	}
	for _, p := range job.Spec.Template.Labels {
		if p != name && strings.Contains(p, "$") {
			t.Errorf("label value %q", p)
		}
	}

	// Terminate deletes the Job and the Service.
	if err := ex.Terminate(ctx, hs[0], time.Second); err != nil {
		t.Fatalf("Terminate: %v", err)
	}
	if _, err := admin.BatchV1().Jobs(namespace).Get(ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("Job after Terminate: %v, want not found", err)
	}
	if _, err := admin.CoreV1().Services(namespace).Get(ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("Service after Terminate: %v, want not found", err)
	}
	for i, h := range hs {
		if st, err := ex.State(ctx, h); err != nil || !st.Lost {
			t.Errorf("task %d after its Job was deleted before it had a pod: %+v, %v; want lost", i, st, err)
		}
	}
}

// markHeld keeps the fake Job controller from creating the pods of Jobs
// whose name starts with prefix.
func markHeld(t *testing.T, prefix string) {
	t.Helper()
	node.mu.Lock()
	node.holdPrefix = append(node.holdPrefix, prefix)
	node.mu.Unlock()
}

// markNoStart keeps the fake kubelet from starting the pods of Jobs whose
// name starts with prefix: they stay Pending.
func markNoStart(t *testing.T, prefix string) {
	t.Helper()
	node.mu.Lock()
	node.noStartPrefix = append(node.noStartPrefix, prefix)
	node.mu.Unlock()
}

// startOne starts a one-task job running argv and returns its handle and
// task.
func startOne(t *testing.T, ex *kube.Executor, jobID string, argv ...string) (executor.Handle, executor.Task) {
	t.Helper()
	task := executortest.Task(t, 0, argv...)
	hs, err := ex.Start(context.Background(), executor.JobSpec{JobID: jobID, Flavor: testFlavor, Tasks: []executor.Task{task}})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = ex.Terminate(context.Background(), hs[0], 0) })
	return hs[0], task
}

// taskPod waits for the task's pod and returns it.
func taskPod(t *testing.T, h executor.Handle, ready func(*corev1.Pod) bool) *corev1.Pod {
	t.Helper()
	deadline := time.Now().Add(executortest.Timeout)
	for {
		ps, err := admin.CoreV1().Pods(namespace).List(context.Background(), metav1.ListOptions{LabelSelector: kube.LabelRun + "=" + jobOf(t, h)})
		if err != nil {
			t.Fatal(err)
		}
		if len(ps.Items) == 1 && (ready == nil || ready(&ps.Items[0])) {
			return &ps.Items[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no pod for %s after %v: %d pods", jobOf(t, h), executortest.Timeout, len(ps.Items))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func waitState(t *testing.T, ex *kube.Executor, h executor.Handle, ok func(executor.State) bool) executor.State {
	t.Helper()
	deadline := time.Now().Add(executortest.Timeout)
	for {
		st, err := ex.State(context.Background(), h)
		if err != nil {
			t.Fatalf("State: %v", err)
		}
		if ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("state still %+v after %v", st, executortest.Timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestStateMachine plays the cluster's events the kubelet and controllers
// would cause and checks what State makes of them.
func TestStateMachine(t *testing.T) {
	needCluster(t)
	ctx := context.Background()
	lost := func(st executor.State) bool { return st.Lost }
	t.Run("no-pod-yet-is-running", func(t *testing.T) {
		t.Parallel()
		ex := newExecutor(t)
		markHeld(t, "atelier-held-")
		h, _ := startOne(t, ex, "held", "true")
		st, err := ex.State(ctx, h)
		if err != nil || !st.Running || st.Lost || st.Exited {
			t.Fatalf("state of a task whose pod is not created yet: %+v, %v; want running", st, err)
		}
		// The Job failed (say its pod was deleted and the controller
		// counted the failure): without a pod, the task is lost.
		job, err := admin.BatchV1().Jobs(namespace).Get(ctx, jobOf(t, h), metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		now := metav1.Now()
		job.Status.StartTime = &now
		job.Status.Conditions = append(job.Status.Conditions,
			batchCondition("FailureTarget", now), batchCondition("Failed", now))
		if _, err := admin.BatchV1().Jobs(namespace).UpdateStatus(ctx, job, metav1.UpdateOptions{}); err != nil {
			t.Fatalf("mark the Job failed: %v", err)
		}
		waitState(t, ex, h, lost)
	})
	t.Run("pending-pod-is-running", func(t *testing.T) {
		t.Parallel()
		ex := newExecutor(t)
		markNoStart(t, "atelier-pending-")
		h, _ := startOne(t, ex, "pending", "true")
		taskPod(t, h, nil)
		if st, err := ex.State(ctx, h); err != nil || !st.Running {
			t.Fatalf("state of a pending pod: %+v, %v; want running", st, err)
		}
	})
	t.Run("evicted-pod-is-lost-and-released", func(t *testing.T) {
		t.Parallel()
		ex := newExecutor(t)
		markNoStart(t, "atelier-evicted-")
		h, _ := startOne(t, ex, "evicted", "true")
		p := taskPod(t, h, nil)
		if err := node.setStatus(ctx, p, func(s *corev1.PodStatus) {
			s.Phase, s.Reason, s.Message = corev1.PodFailed, "Evicted", "The node was low on resource: memory."
		}); err != nil {
			t.Fatal(err)
		}
		st := waitState(t, ex, h, lost)
		if st.Exited || st.Running {
			t.Errorf("state %+v: lost only", st)
		}
		if p := taskPod(t, h, nil); slices.Contains(p.Finalizers, kube.Finalizer) {
			t.Errorf("the evicted pod keeps the executor's finalizer: %v", p.Finalizers)
		}
	})
	t.Run("deleted-pod-without-status-is-lost", func(t *testing.T) {
		t.Parallel()
		ex := newExecutor(t)
		markNoStart(t, "atelier-deleted-")
		h, _ := startOne(t, ex, "deleted", "true")
		p := taskPod(t, h, nil)
		// Someone removes the finalizer and force-deletes the pod; the
		// Job controller then fails the Job (backoffLimit 0).
		patch := `{"metadata":{"finalizers":null}}`
		if _, err := admin.CoreV1().Pods(namespace).Patch(ctx, p.Name, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		zero := int64(0)
		if err := admin.CoreV1().Pods(namespace).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
			t.Fatal(err)
		}
		job, err := admin.BatchV1().Jobs(namespace).Get(ctx, jobOf(t, h), metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		now := metav1.Now()
		job.Status.StartTime = &now
		job.Status.Conditions = append(job.Status.Conditions, batchCondition("FailureTarget", now), batchCondition("Failed", now))
		if _, err := admin.BatchV1().Jobs(namespace).UpdateStatus(ctx, job, metav1.UpdateOptions{}); err != nil {
			t.Fatalf("mark the Job failed: %v", err)
		}
		waitState(t, ex, h, lost)
	})
	t.Run("exit-survives-pod-job-and-restart", func(t *testing.T) {
		t.Parallel()
		ex := newExecutor(t)
		h, task := startOne(t, ex, "survives", executortest.Sh("echo bye; exit 3")...)
		st := executortest.WaitExited(t, ex, h, 3, "")
		// Recorded, the pod is released: the Job's TTL or a Terminate
		// may delete everything now.
		p := taskPod(t, h, nil)
		if slices.Contains(p.Finalizers, kube.Finalizer) {
			t.Errorf("pod keeps the finalizer after its exit was recorded")
		}
		if err := ex.Terminate(ctx, h, 0); err != nil {
			t.Fatalf("Terminate after the end: %v", err)
		}
		waitGone(t, p)
		again := newExecutor(t) // a restarted server
		st2, err := again.State(ctx, h)
		if err != nil || !st2.Exited || st2.ExitCode != 3 || !st2.StartedAt.Equal(st.StartedAt) || !st2.EndedAt.Equal(st.EndedAt) {
			t.Errorf("state after the pod and Job are gone, from a new executor: %+v, %v; want %+v", st2, err, st)
		}
		if log := executortest.ReadLog(t, task); log != "bye\n" {
			t.Errorf("log %q", log)
		}
	})
	t.Run("finalizer-keeps-a-deleted-pod-until-its-exit-is-recorded", func(t *testing.T) {
		t.Parallel()
		ex := newExecutor(t)
		h, task := startOne(t, ex, "finalizer", executortest.Sh("echo ready; exec sleep 60")...)
		executortest.WaitLog(t, task.LogPath, "ready")
		if err := ex.Terminate(ctx, h, time.Second); err != nil {
			t.Fatal(err)
		}
		// The kubelet stops the container and deletes the pod for good;
		// the finalizer keeps it, terminated, until State reads it.
		p := taskPod(t, h, func(p *corev1.Pod) bool {
			cs := p.Status.ContainerStatuses
			return p.DeletionTimestamp != nil && len(cs) == 1 && cs[0].State.Terminated != nil && *p.DeletionGracePeriodSeconds == 0
		})
		time.Sleep(100 * time.Millisecond)
		if _, err := admin.CoreV1().Pods(namespace).Get(ctx, p.Name, metav1.GetOptions{}); err != nil {
			t.Fatalf("the deleted pod went before its exit was recorded: %v", err)
		}
		executortest.WaitExited(t, ex, h, 143, "SIGTERM")
		waitGone(t, p)
	})
	t.Run("restarted-executor-resumes-the-log-without-repeating-it", func(t *testing.T) {
		t.Parallel()
		first := newExecutor(t)
		h, task := startOne(t, first, "resume", executortest.Sh(`echo one; echo two; while [ ! -e go ]; do sleep 0.05; done; echo three`)...)
		waitState(t, first, h, func(executor.State) bool { return strings.Contains(readFile(task.LogPath), "two") })
		first.Close() // the server stops
		if err := os.WriteFile(filepath.Join(task.Dir, "go"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		second := newExecutor(t)
		executortest.WaitExited(t, second, h, 0, "")
		if log := executortest.ReadLog(t, task); log != "one\ntwo\nthree\n" {
			t.Errorf("log after a restart = %q, want each line once", log)
		}
	})
}

func readFile(p string) string {
	b, _ := os.ReadFile(p)
	return string(b)
}

func waitGone(t *testing.T, p *corev1.Pod) {
	t.Helper()
	deadline := time.Now().Add(executortest.Timeout)
	for {
		_, err := admin.CoreV1().Pods(namespace).Get(context.Background(), p.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("pod %s still there after %v: %v", p.Name, executortest.Timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestUsageWithoutMetricsAPI(t *testing.T) {
	ex := newExecutor(t)
	h, task := startOne(t, ex, "usage", executortest.Sh("echo ready; exec sleep 60")...)
	executortest.WaitLog(t, task.LogPath, "ready")
	_, err := ex.Usage(context.Background(), h)
	if !errors.Is(err, kube.ErrNoMetrics) {
		t.Errorf("Usage without metrics-server: %v, want ErrNoMetrics", err)
	}
	// Not found, not forbidden: the Role lets the executor read metrics.
	if strings.Contains(err.Error(), "forbidden") {
		t.Errorf("Usage: %v: the RBAC manifest does not allow reading pod metrics", err)
	}
}

func TestStartRefuses(t *testing.T) {
	ex := newExecutor(t, func(o *kube.Options) { o.Protected = []string{filepath.Join(os.TempDir(), "atelier-protected-data")} })
	for _, tc := range []struct {
		name        string
		spec        func(t *testing.T) executor.JobSpec
		want        string
		unsupported bool
	}{
		{"different-dirs", func(t *testing.T) executor.JobSpec {
			return executor.JobSpec{JobID: "r1", Tasks: []executor.Task{executortest.Task(t, 0, "true"), executortest.Task(t, 1, "true")}}
		}, "directory", true},
		{"different-commands", func(t *testing.T) executor.JobSpec {
			a, b := executortest.Task(t, 0, "true"), executortest.Task(t, 1, "false")
			b.Dir = a.Dir
			return executor.JobSpec{JobID: "r2", Tasks: []executor.Task{a, b}}
		}, "command", true},
		{"env-differing-beyond-the-index", func(t *testing.T) executor.JobSpec {
			a, b := executortest.Task(t, 0, "true"), executortest.Task(t, 1, "true")
			b.Dir = a.Dir
			a.Env, b.Env = map[string]string{"SEED": "17"}, map[string]string{"SEED": "42"}
			return executor.JobSpec{JobID: "r3", Tasks: []executor.Task{a, b}}
		}, "SEED", true},
		{"dir-outside-the-jobs-dir", func(t *testing.T) executor.JobSpec {
			a := executortest.Task(t, 0, "true")
			a.Dir = "/etc"
			return executor.JobSpec{JobID: "r4", Tasks: []executor.Task{a}}
		}, "not inside the jobs directory", false},
		{"mount-of-the-whole-jobs-dir", func(t *testing.T) executor.JobSpec {
			return executor.JobSpec{JobID: "r5", Tasks: []executor.Task{executortest.Task(t, 0, "true")}, Mounts: []executor.Mount{{Path: os.TempDir()}}}
		}, "not inside the jobs directory", false},
		{"mount-showing-a-protected-path", func(t *testing.T) executor.JobSpec {
			return executor.JobSpec{JobID: "r6", Tasks: []executor.Task{executortest.Task(t, 0, "true")},
				Mounts: []executor.Mount{{Path: filepath.Join(os.TempDir(), "atelier-protected-data")}}}
		}, "atelier-protected-data", false},
		{"exit-status-visible-to-the-task", func(t *testing.T) executor.JobSpec {
			a := executortest.Task(t, 0, "true")
			a.ExitCodePath = filepath.Join(a.Dir, "forged.exit")
			return executor.JobSpec{JobID: "r7", Tasks: []executor.Task{a}}
		}, "exit status", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := tc.spec(t)
			hs, err := ex.Start(context.Background(), spec)
			if err == nil {
				for _, h := range hs {
					_ = ex.Terminate(context.Background(), h, 0)
				}
				t.Fatalf("Start succeeded, want an error about %s", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) || errors.Is(err, executor.ErrUnsupported) != tc.unsupported {
				t.Errorf("error %q: want one about %q, ErrUnsupported %v", err, tc.want, tc.unsupported)
			}
			jobs, err := admin.BatchV1().Jobs(namespace).List(context.Background(), metav1.ListOptions{LabelSelector: kube.LabelJob + "=" + spec.JobID})
			if err != nil || len(jobs.Items) != 0 {
				t.Errorf("a refused job left %d Jobs (%v)", len(jobs.Items), err)
			}
		})
	}
}

// TestStartReplacesAnEarlierAttempt: a second Start of the same job (the
// server died before recording the first) deletes the first's Job.
func TestStartReplacesAnEarlierAttempt(t *testing.T) {
	ex := newExecutor(t)
	markNoStart(t, "atelier-twice-")
	h1, _ := startOne(t, ex, "twice", "true")
	h2, _ := startOne(t, ex, "twice", "true")
	if jobOf(t, h1) == jobOf(t, h2) {
		t.Fatalf("both attempts got Job %s", jobOf(t, h1))
	}
	jobs, err := admin.BatchV1().Jobs(namespace).List(context.Background(), metav1.ListOptions{LabelSelector: kube.LabelJob + "=twice"})
	if err != nil {
		t.Fatal(err)
	}
	var live []string
	for _, j := range jobs.Items {
		if j.DeletionTimestamp == nil {
			live = append(live, j.Name)
		}
	}
	if !slices.Equal(live, []string{jobOf(t, h2)}) {
		t.Errorf("Jobs of the job after a second Start: %v, want only %s", live, jobOf(t, h2))
	}
}

// TestRBACIsNarrow: the service account the manifest binds can do what the
// executor needs (the other tests) and no more than its namespace's
// training objects: no secrets, no other namespace, no pods of its own.
func TestRBACIsNarrow(t *testing.T) {
	needCluster(t)
	c, err := kubernetes.NewForConfig(executorConfig)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		call func() error
	}{
		{"list-secrets", func() error { _, err := c.CoreV1().Secrets(namespace).List(ctx, metav1.ListOptions{}); return err }},
		{"get-configmaps", func() error {
			_, err := c.CoreV1().ConfigMaps(namespace).Get(ctx, "x", metav1.GetOptions{})
			return err
		}},
		{"jobs-in-another-namespace", func() error { _, err := c.BatchV1().Jobs("default").List(ctx, metav1.ListOptions{}); return err }},
		{"list-nodes", func() error { _, err := c.CoreV1().Nodes().List(ctx, metav1.ListOptions{}); return err }},
		{"create-pods", func() error {
			_, err := c.CoreV1().Pods(namespace).Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "x"},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "x", Image: "x"}}}}, metav1.CreateOptions{})
			return err
		}},
		{"exec-into-pods", func() error {
			return c.CoreV1().RESTClient().Post().Namespace(namespace).Resource("pods").Name("x").SubResource("exec").Do(ctx).Error()
		}},
		{"update-roles", func() error { _, err := c.RbacV1().Roles(namespace).List(ctx, metav1.ListOptions{}); return err }},
	} {
		if err := tc.call(); !apierrors.IsForbidden(err) {
			t.Errorf("%s as the executor's service account: %v, want forbidden", tc.name, err)
		}
	}
}

func TestNewChecksOptionsAndAccess(t *testing.T) {
	needCluster(t)
	c, err := kubernetes.NewForConfig(executorConfig)
	if err != nil {
		t.Fatal(err)
	}
	ok := kube.Options{Client: c, Namespace: namespace, JobsDir: "/jobs", JobsClaim: "claim", DefaultImage: "img"}
	for _, tc := range []struct {
		name   string
		change func(*kube.Options)
		want   string
	}{
		{"no-namespace", func(o *kube.Options) { o.Namespace = "" }, "namespace"},
		{"no-claim", func(o *kube.Options) { o.JobsClaim = "" }, "claim"},
		{"no-image", func(o *kube.Options) { o.DefaultImage = "" }, "image"},
		{"relative-jobs-dir", func(o *kube.Options) { o.JobsDir = "jobs" }, "absolute"},
		{"forbidden-namespace", func(o *kube.Options) { o.Namespace = "default" }, "forbidden"},
		{"bad-flavor", func(o *kube.Options) { o.Flavors = []executor.Flavor{{ID: "f"}} }, "flavor f"},
	} {
		o := ok
		tc.change(&o)
		if _, err := kube.New(context.Background(), o); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: New: %v, want an error about %q", tc.name, err, tc.want)
		}
	}
}

// TestDeploymentManifest: deploy/kubernetes/atelier.yaml was accepted by
// the API server (TestMain applied it), and its Atelier container's
// ATELIER_* variables are flags of the server that, with the namespace the
// downward API gives, make a valid --executor kubernetes configuration
// whose jobs directory is where the jobs claim is mounted.
func TestDeploymentManifest(t *testing.T) {
	needCluster(t)
	d, err := admin.AppsV1().Deployments(namespace).Get(context.Background(), "atelier", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the manifest's Deployment: %v", err)
	}
	spec := d.Spec.Template.Spec
	if spec.ServiceAccountName != "atelier" {
		t.Errorf("Atelier's pod runs as %q, not the service account rbac.yaml binds", spec.ServiceAccountName)
	}
	c := spec.Containers[0]
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	var cfg config.Config
	config.Bind(fs, &cfg)
	for _, e := range c.Env {
		name, ok := strings.CutPrefix(e.Name, "ATELIER_")
		flag := fs.Lookup(strings.ReplaceAll(strings.ToLower(name), "_", "-"))
		if !ok || flag == nil {
			t.Errorf("env %s is no flag of the server", e.Name)
			continue
		}
		v := e.Value
		if e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.namespace" {
			v = d.Namespace
		}
		if err := fs.Set(flag.Name, v); err != nil {
			t.Errorf("--%s=%s: %v", flag.Name, v, err)
		}
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("the manifest's configuration: %v", err)
	}
	if cfg.Executor != "kubernetes" || cfg.KubernetesNamespace != namespace {
		t.Errorf("executor %q in namespace %q", cfg.Executor, cfg.KubernetesNamespace)
	}
	mounted := map[string]string{}
	for _, m := range c.VolumeMounts {
		mounted[m.MountPath] = m.Name
	}
	claims := map[string]string{}
	for _, v := range spec.Volumes {
		if v.PersistentVolumeClaim != nil {
			claims[v.Name] = v.PersistentVolumeClaim.ClaimName
		}
	}
	if claims[mounted[cfg.JobsDir]] != cfg.KubernetesJobsClaim {
		t.Errorf("--jobs-dir %s holds volume %q of claim %q, want the claim %q", cfg.JobsDir, mounted[cfg.JobsDir], claims[mounted[cfg.JobsDir]], cfg.KubernetesJobsClaim)
	}
	pvc, err := admin.CoreV1().PersistentVolumeClaims(namespace).Get(context.Background(), cfg.KubernetesJobsClaim, metav1.GetOptions{})
	if err != nil || !slices.Contains(pvc.Spec.AccessModes, corev1.ReadWriteMany) {
		t.Errorf("jobs claim %s: %v, access modes %v; want ReadWriteMany", cfg.KubernetesJobsClaim, err, pvc.Spec.AccessModes)
	}
	if within := strings.HasPrefix(cfg.DataDir+"/", cfg.JobsDir+"/") || strings.HasPrefix(cfg.JobsDir+"/", cfg.DataDir+"/"); within {
		t.Errorf("data directory %s and jobs directory %s nest: keep the data off the jobs claim", cfg.DataDir, cfg.JobsDir)
	}
	sa, err := admin.CoreV1().ServiceAccounts(namespace).Get(context.Background(), cfg.KubernetesServiceAccount, metav1.GetOptions{})
	if err != nil || sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken {
		t.Errorf("jobs' service account %s: %v; want one that mounts no token", cfg.KubernetesServiceAccount, err)
	}
}

// TestRBACAllowsPodLogs: the Pod log API is the one call the tests do not
// make through the executor (logs come from the fake node), so the Role's
// pods/log rule is checked here: a missing pod is not found, not forbidden.
func TestRBACAllowsPodLogs(t *testing.T) {
	needCluster(t)
	c, err := kubernetes.NewForConfig(executorConfig)
	if err != nil {
		t.Fatal(err)
	}
	err = c.CoreV1().Pods(namespace).GetLogs("no-such-pod", &corev1.PodLogOptions{Container: kube.ContainerName, Follow: true, Timestamps: true}).
		Do(context.Background()).Error()
	if !apierrors.IsNotFound(err) {
		t.Errorf("pod logs as the executor's service account: %v, want not found (allowed)", err)
	}
}
