package kube

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/atelier-dev/atelier/internal/training/executor"
)

// Labels, annotations and the finalizer the executor puts on its objects.
const (
	LabelManagedBy = "app.kubernetes.io/managed-by"
	managedBy      = "atelier"
	// LabelJob is the training job's id (made a label value).
	LabelJob = "atelier.dev/job-id"
	// LabelRun is the Kubernetes Job's name: the Service's selector.
	LabelRun = "atelier.dev/run"
	// LabelIndex and AnnotationIndex are the Job controller's, on each pod
	// of an Indexed Job.
	LabelIndex      = "batch.kubernetes.io/job-completion-index"
	AnnotationIndex = "batch.kubernetes.io/job-completion-index"
	// Finalizer keeps a pod in the API until State has recorded how its
	// task ended.
	Finalizer = "atelier.dev/task-status"
	// ContainerName is the task's container in its pod.
	ContainerName = "task"
	// jobsVolume is the jobs claim's volume in a pod.
	jobsVolume = "jobs"
)

var listOne = metav1.ListOptions{Limit: 1}

// Start creates the job's Job and Service. Every task must have the same
// Command and Dir (one pod template serves them all); a Task.Env value may
// differ between tasks only where it holds the task's index (as in
// "worker-0", "worker-1"), which the template then takes from
// VC_TASK_INDEX; other differences are executor.ErrUnsupported.
func (e *Executor) Start(ctx context.Context, spec executor.JobSpec) ([]executor.Handle, error) {
	if len(spec.Tasks) == 0 {
		return nil, errors.New("start job: no tasks")
	}
	for i, t := range spec.Tasks {
		if t.Index != i {
			return nil, fmt.Errorf("start job: task %s has index %d at position %d", t.ID, t.Index, i)
		}
		if !filepath.IsAbs(t.LogPath) || !filepath.IsAbs(t.ExitCodePath) {
			return nil, fmt.Errorf("start job: task %s: log and exit status paths must be absolute", t.ID)
		}
		if !slices.Equal(t.Command, spec.Tasks[0].Command) || t.Dir != spec.Tasks[0].Dir {
			return nil, fmt.Errorf("start job: task %s has another command or directory than task 0, and a Kubernetes Job's tasks share one: %w", t.ID, executor.ErrUnsupported)
		}
	}
	if len(spec.Tasks[0].Command) == 0 {
		return nil, errors.New("start job: empty command")
	}
	mounts, err := e.mounts(spec)
	if err != nil {
		return nil, fmt.Errorf("start job: %w", err)
	}
	env, err := taskEnv(spec.Tasks)
	if err != nil {
		return nil, fmt.Errorf("start job: %w", err)
	}
	if err := e.removeEarlier(ctx, spec.JobID); err != nil {
		return nil, fmt.Errorf("start job: %w", err)
	}
	if err := e.giveToTasks(spec, mounts); err != nil {
		return nil, fmt.Errorf("start job: %w", err)
	}
	for _, t := range spec.Tasks {
		if err := os.MkdirAll(filepath.Dir(t.LogPath), 0o755); err != nil {
			return nil, fmt.Errorf("start job: create log directory: %w", err)
		}
		if err := os.MkdirAll(filepath.Dir(t.ExitCodePath), 0o755); err != nil {
			return nil, fmt.Errorf("start job: create status directory: %w", err)
		}
	}
	name, err := objectName(spec.JobID)
	if err != nil {
		return nil, fmt.Errorf("start job: %w", err)
	}
	job, err := e.job(name, spec, env, mounts)
	if err != nil {
		return nil, fmt.Errorf("start job: %w", err)
	}
	jobs := e.opts.Client.BatchV1().Jobs(e.opts.Namespace)
	created, err := jobs.Create(ctx, job, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("start job: create Job %s: %w", name, err)
	}
	svc := e.service(name, spec.JobID, created)
	if _, err := e.opts.Client.CoreV1().Services(e.opts.Namespace).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		bg := metav1.DeletePropagationBackground
		_ = jobs.Delete(context.WithoutCancel(ctx), name, metav1.DeleteOptions{PropagationPolicy: &bg})
		return nil, fmt.Errorf("start job: create Service %s: %w", name, err)
	}
	hs := make([]executor.Handle, len(spec.Tasks))
	for i, t := range spec.Tasks {
		d := handleData{Version: handleVersion, Namespace: e.opts.Namespace, Job: name, JobUID: string(created.UID), Index: i,
			Task: t.ID, ExitFile: t.ExitCodePath, LogFile: t.LogPath}
		hs[i] = d.encode()
		e.follow(d)
	}
	e.log.Info("job started", "job", spec.JobID, "kubernetes_job", name, "namespace", e.opts.Namespace, "tasks", len(spec.Tasks))
	return hs, nil
}

// removeEarlier deletes what an earlier Start of the same job left (the
// server died before it recorded the handles, say), so that it does not
// run twice.
func (e *Executor) removeEarlier(ctx context.Context, jobID string) error {
	sel := labels.Set{LabelManagedBy: managedBy, LabelJob: labelValue(jobID)}.String()
	old, err := e.opts.Client.BatchV1().Jobs(e.opts.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return fmt.Errorf("look for an earlier attempt: %w", err)
	}
	bg := metav1.DeletePropagationBackground
	for _, j := range old.Items {
		if err := e.deleteRun(ctx, j.Name, &bg); err != nil {
			return fmt.Errorf("delete an earlier attempt: %w", err)
		}
	}
	return nil
}

// deleteRun deletes a Job and its Service (at once), either already gone.
func (e *Executor) deleteRun(ctx context.Context, name string, propagation *metav1.DeletionPropagation) error {
	svc := make(chan error, 1)
	go func() {
		err := e.opts.Client.CoreV1().Services(e.opts.Namespace).Delete(ctx, name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			err = fmt.Errorf("delete Service %s: %w", name, err)
		} else {
			err = nil
		}
		svc <- err
	}()
	err := e.opts.Client.BatchV1().Jobs(e.opts.Namespace).Delete(ctx, name, metav1.DeleteOptions{PropagationPolicy: propagation})
	if err != nil && !apierrors.IsNotFound(err) {
		err = fmt.Errorf("delete Job %s: %w", name, err)
	} else {
		err = nil
	}
	return errors.Join(err, <-svc)
}

// volumeMount is one path of the jobs claim a task sees.
type volumeMount struct {
	path     string // absolute, under JobsDir
	writable bool
}

// mounts lists the claim's paths a task's pod mounts: Task.Dir (unless a
// mount holds it) and the JobSpec's Mounts, checked to be inside JobsDir,
// not JobsDir itself, and to hold no protected path and no exit record.
func (e *Executor) mounts(spec executor.JobSpec) ([]volumeMount, error) {
	ms := make([]volumeMount, 0, len(spec.Mounts)+1)
	for _, m := range spec.Mounts {
		ms = append(ms, volumeMount{filepath.Clean(m.Path), m.Writable})
	}
	dir := filepath.Clean(spec.Tasks[0].Dir)
	covered := false
	for _, m := range ms {
		if executor.Within(dir, m.path) {
			covered = true
		}
	}
	if !covered {
		ms = append(ms, volumeMount{dir, true})
	}
	for _, m := range ms {
		rel, err := filepath.Rel(e.opts.JobsDir, m.path)
		if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, "../") || !filepath.IsAbs(m.path) {
			return nil, fmt.Errorf("%s is not inside the jobs directory %s, the only place tasks' pods can see", m.path, e.opts.JobsDir)
		}
		for _, p := range e.opts.Protected {
			if executor.Within(filepath.Clean(p), m.path) {
				return nil, fmt.Errorf("mount %s would show %s to the job", m.path, p)
			}
		}
		for _, t := range spec.Tasks {
			if executor.Within(filepath.Clean(t.ExitCodePath), m.path) {
				return nil, fmt.Errorf("task %s's exit status path %s is inside %s, which the task sees", t.ID, t.ExitCodePath, m.path)
			}
		}
	}
	// Outer mounts first: a mount inside another one is mounted over it.
	slices.SortFunc(ms, func(a, b volumeMount) int { return strings.Compare(a.path, b.path) })
	return slices.CompactFunc(ms, func(a, b volumeMount) bool { return a.path == b.path && a.writable == b.writable }), nil
}

// giveToTasks lets the task user write Task.Dir and the writable mounts:
// by ownership when the server may change it (it runs as root), else by
// making them writable by everyone, which only this job's pods can see on
// the claim. Symbolic links are never followed.
func (e *Executor) giveToTasks(spec executor.JobSpec, ms []volumeMount) error {
	if err := os.MkdirAll(spec.Tasks[0].Dir, 0o755); err != nil {
		return fmt.Errorf("create task directory: %w", err)
	}
	root := os.Geteuid() == 0
	for _, m := range ms {
		if !m.writable {
			continue
		}
		if err := os.MkdirAll(m.path, 0o755); err != nil {
			return fmt.Errorf("create %s: %w", m.path, err)
		}
		err := filepath.WalkDir(m.path, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if root {
				return os.Lchown(p, int(e.opts.TaskUID), int(e.opts.TaskGID))
			}
			if d.Type()&fs.ModeSymlink != 0 {
				return nil
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			mode := fi.Mode().Perm() | 0o666
			if d.IsDir() {
				mode |= 0o777
			}
			return os.Chmod(p, mode)
		})
		if err != nil {
			return fmt.Errorf("give %s to the task user: %w", m.path, err)
		}
	}
	return nil
}

// objectName is the Job's and Service's name: "atelier-", the job id made
// a DNS label (shortened with a hash when long), and a random suffix. It is
// at most 50 characters, so that "<name>-<index>", a pod's host name, is a
// DNS label too.
func objectName(jobID string) (string, error) {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("random name: %w", err)
	}
	return "atelier-" + dnsPart(jobID, 33) + "-" + hex.EncodeToString(b[:]), nil
}

// dnsPart makes s lower-case letters, digits and '-' (no leading or
// trailing '-'), at most n characters, ending in a hash of s when it had to
// be changed or cut.
func dnsPart(s string, n int) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	out := strings.Trim(b.String(), "-")
	if out == s && len(out) <= n && out != "" {
		return out
	}
	sum := sha256.Sum256([]byte(s))
	h := hex.EncodeToString(sum[:4])
	if len(out) > n-len(h)-1 {
		out = out[:n-len(h)-1]
	}
	out = strings.Trim(out, "-")
	if out == "" {
		return h
	}
	return out + "-" + h
}

// labelValue makes s a label value (at most 63 of [A-Za-z0-9_.-]).
func labelValue(s string) string { return dnsPart(s, 63) }

// escape doubles every '$', so that Kubernetes' $(VAR) expansion in
// command, args and env values gives back s itself.
func escape(s string) string { return strings.ReplaceAll(s, "$", "$$") }

// indexRef is the expansion of a task's own index in an env value.
const indexRef = "$(VC_TASK_INDEX)"

// taskEnv is the pod template's env for Task.Env: the values of task 0,
// escaped; a key whose value differs between tasks becomes a template
// where each task's index is $(VC_TASK_INDEX), when that reproduces every
// task's value. A key some tasks lack is ErrUnsupported, as is any other
// difference.
func taskEnv(tasks []executor.Task) ([]corev1.EnvVar, error) {
	keys := make([]string, 0, len(tasks[0].Env))
	for k := range tasks[0].Env {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, t := range tasks[1:] {
		if len(t.Env) != len(keys) {
			return nil, fmt.Errorf("tasks %s and %s set different variables: %w", tasks[0].ID, t.ID, executor.ErrUnsupported)
		}
	}
	var env []corev1.EnvVar
	for _, k := range keys {
		if topology[k] {
			continue // the executor's own, set after
		}
		v0 := tasks[0].Env[k]
		same := true
		for _, t := range tasks[1:] {
			v, ok := t.Env[k]
			if !ok {
				return nil, fmt.Errorf("task %s lacks %s: %w", t.ID, k, executor.ErrUnsupported)
			}
			same = same && v == v0
		}
		if same {
			env = append(env, corev1.EnvVar{Name: k, Value: escape(v0)})
			continue
		}
		tmpl, ok := indexTemplate(k, tasks)
		if !ok {
			return nil, fmt.Errorf("tasks' values of %s differ by more than their index, and a Kubernetes Job's tasks share one template: %w", k, executor.ErrUnsupported)
		}
		env = append(env, corev1.EnvVar{Name: k, Value: tmpl})
	}
	return env, nil
}

// indexTemplate finds the one occurrence of each task's index in its value
// of k such that replacing it by $(VC_TASK_INDEX) gives the same template
// for every task.
func indexTemplate(k string, tasks []executor.Task) (string, bool) {
	v0, i0 := tasks[0].Env[k], strconv.Itoa(tasks[0].Index)
	for at := strings.Index(v0, i0); at >= 0; {
		pre, post := v0[:at], v0[at+len(i0):]
		ok := true
		for _, t := range tasks[1:] {
			if t.Env[k] != pre+strconv.Itoa(t.Index)+post {
				ok = false
				break
			}
		}
		if ok {
			return escape(pre) + indexRef + escape(post), true
		}
		next := strings.Index(v0[at+1:], i0)
		if next < 0 {
			break
		}
		at += 1 + next
	}
	return "", false
}

// topology are the variables only the executor knows; Task.Env cannot set
// them.
var topology = map[string]bool{"VC_TASK_INDEX": true, "VC_WORKER_NUM": true, "VC_WORKER_HOSTS": true, "MA_CURRENT_IP": true,
	"MA_NUM_HOSTS": true, "MASTER_ADDR": true, "MASTER_PORT": true, "WORLD_SIZE": true, "RANK": true}

// job is the Indexed Job for the spec.
func (e *Executor) job(name string, spec executor.JobSpec, taskEnv []corev1.EnvVar, ms []volumeMount) (*batchv1.Job, error) {
	n := int32(len(spec.Tasks))
	hosts := make([]string, n)
	for i := range hosts {
		hosts[i] = fmt.Sprintf("%s-%d.%s", name, i, name)
	}
	indexField := &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.annotations['" + AnnotationIndex + "']"}}
	// VC_TASK_INDEX first: templated Task.Env values refer to it, and
	// Kubernetes expands only references to variables defined before.
	env := []corev1.EnvVar{
		{Name: "VC_TASK_INDEX", ValueFrom: indexField},
		{Name: "RANK", ValueFrom: indexField},
		{Name: "MA_CURRENT_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
		{Name: "VC_WORKER_NUM", Value: strconv.Itoa(int(n))},
		{Name: "WORLD_SIZE", Value: strconv.Itoa(int(n))},
		{Name: "MA_NUM_HOSTS", Value: strconv.Itoa(int(n))},
		{Name: "VC_WORKER_HOSTS", Value: strings.Join(hosts, ",")},
		{Name: "MASTER_ADDR", Value: hosts[0]},
		{Name: "MASTER_PORT", Value: strconv.Itoa(e.opts.MasterPort)},
	}
	env = append(env, taskEnv...)

	res, err := resources(spec.Flavor)
	if err != nil {
		return nil, err
	}
	vms := make([]corev1.VolumeMount, len(ms))
	for i, m := range ms {
		rel, _ := filepath.Rel(e.opts.JobsDir, m.path)
		vms[i] = corev1.VolumeMount{Name: jobsVolume, MountPath: m.path, SubPath: filepath.ToSlash(rel), ReadOnly: !m.writable}
	}
	argv := make([]string, len(spec.Tasks[0].Command))
	for i, a := range spec.Tasks[0].Command {
		argv[i] = escape(a)
	}
	image := spec.Image
	if image == "" {
		image = e.opts.DefaultImage
	}
	lbls := map[string]string{LabelManagedBy: managedBy, LabelJob: labelValue(spec.JobID), LabelRun: name}
	yes, no := true, false
	uid, gid := e.opts.TaskUID, e.opts.TaskGID
	grace := int64(math.Ceil(e.opts.Grace.Seconds()))
	ttl := int32(e.opts.TTLAfterFinished / time.Second)
	indexed := batchv1.IndexedCompletion
	var zero int32
	sa := e.opts.ServiceAccount
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: e.opts.Namespace, Labels: lbls,
			Annotations: map[string]string{"atelier.dev/job": spec.JobID}},
		Spec: batchv1.JobSpec{
			CompletionMode:          &indexed,
			Completions:             &n,
			Parallelism:             &n,
			BackoffLimit:            &zero,
			TTLSecondsAfterFinished: &ttl,
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: lbls, Finalizers: []string{Finalizer}},
				Spec: corev1.PodSpec{
					RestartPolicy:                 corev1.RestartPolicyNever,
					Subdomain:                     name,
					ServiceAccountName:            sa,
					AutomountServiceAccountToken:  &no,
					EnableServiceLinks:            &no,
					TerminationGracePeriodSeconds: &grace,
					SecurityContext: &corev1.PodSecurityContext{
						RunAsNonRoot:   &yes,
						RunAsUser:      &uid,
						RunAsGroup:     &gid,
						SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
					},
					Containers: []corev1.Container{{
						Name:       ContainerName,
						Image:      image,
						Command:    argv,
						WorkingDir: spec.Tasks[0].Dir,
						Env:        env,
						Resources:  res,
						SecurityContext: &corev1.SecurityContext{
							RunAsNonRoot:             &yes,
							AllowPrivilegeEscalation: &no,
							Privileged:               &no,
							Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
							SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
						},
						VolumeMounts:             vms,
						TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
					}},
					Volumes: []corev1.Volume{{Name: jobsVolume, VolumeSource: corev1.VolumeSource{
						PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: e.opts.JobsClaim}}}},
				},
			},
		},
	}, nil
}

// resources are the flavor's requests, equal to its limits (GPUs are only
// ever limits and requests alike in Kubernetes).
func resources(f executor.Flavor) (corev1.ResourceRequirements, error) {
	l := corev1.ResourceList{}
	if f.CPU > 0 {
		l[corev1.ResourceCPU] = *resource.NewMilliQuantity(int64(math.Round(f.CPU*1000)), resource.DecimalSI)
	}
	if f.MemoryMiB > 0 {
		l[corev1.ResourceMemory] = *resource.NewQuantity(f.MemoryMiB<<20, resource.BinarySI)
	}
	if f.GPUs > 0 {
		l["nvidia.com/gpu"] = *resource.NewQuantity(int64(f.GPUs), resource.DecimalSI)
	}
	if f.CPU < 0 || f.MemoryMiB < 0 || f.GPUs < 0 {
		return corev1.ResourceRequirements{}, fmt.Errorf("flavor %s has negative resources", f.ID)
	}
	return corev1.ResourceRequirements{Requests: l, Limits: l.DeepCopy()}, nil
}

// service is the headless Service that gives the job's pods DNS names,
// owned by the Job so that Kubernetes deletes it with the Job.
func (e *Executor) service(name, jobID string, job *batchv1.Job) *corev1.Service {
	yes := true
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: e.opts.Namespace,
			Labels: map[string]string{LabelManagedBy: managedBy, LabelJob: labelValue(jobID), LabelRun: name},
			// No blockOwnerDeletion: setting it needs rights over the
			// Job's finalizers where OwnerReferencesPermissionEnforcement is on.
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "batch/v1", Kind: "Job", Name: job.Name, UID: job.UID,
				Controller: &yes}}},
		Spec: corev1.ServiceSpec{
			ClusterIP: corev1.ClusterIPNone,
			Selector:  map[string]string{LabelRun: name},
			// Tasks look each other up while starting, before any is ready.
			PublishNotReadyAddresses: true,
		},
	}
}

// graceSeconds is grace in whole seconds, at least 1: Kubernetes counts in
// seconds, and 0 would force the pod's deletion without the kubelet.
func graceSeconds(grace time.Duration) int64 {
	return max(1, int64(math.Ceil(grace.Seconds())))
}
