package kube_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	"github.com/atelier-dev/atelier/internal/training/executor/kube"
)

// The tests run the executor against a real kube-apiserver and etcd
// (envtest), as the service account of deploy/kubernetes/rbac.yaml with
// that file's Role: every call the executor makes is authorized by it or
// fails the test. envtest runs no controllers and no kubelet, so fakeNode
// plays their parts with the admin's credentials: the Job controller
// (creating each index's pod from the Job's template as it does), the
// garbage collector (deleting the pods of a deleted Job) and the kubelet
// (running each pod's container command as a local process, with the
// env the pod spec gives after Kubernetes' $(VAR) expansion, reporting its
// status, SIGTERM then SIGKILL after the grace period on deletion). Only
// the pod logs cannot come through the API without a kubelet: the fake
// node serves the processes' output through kube.LogSource.

// namespace is the manifests' namespace.
const namespace = "atelier"

var (
	testEnv *envtest.Environment
	// admin has every right; executorConfig is the executor's service
	// account.
	admin          kubernetes.Interface
	executorConfig *rest.Config
	node           *fakeNode
	skipReason     string
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		skipReason = "KUBEBUILDER_ASSETS is unset: these tests need a kube-apiserver and etcd (testinfra/kubernetes/ci.sh provides them)"
		return m.Run()
	}
	// CI runs other packages' tests beside these on two cores: the
	// default 20 s for the API server to come up is not always enough.
	testEnv = &envtest.Environment{ControlPlaneStartTimeout: time.Minute, ControlPlaneStopTimeout: 30 * time.Second}
	cfg, err := testEnv.Start()
	if err != nil {
		fmt.Fprintf(os.Stderr, "start envtest: %v\n", err)
		return 1
	}
	defer func() {
		if err := testEnv.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "stop envtest: %v\n", err)
		}
	}()
	if err := setUp(cfg); err != nil {
		fmt.Fprintf(os.Stderr, "set up the cluster: %v\n", err)
		return 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { node.run(ctx); close(done) }()
	code := m.Run()
	cancel()
	<-done
	node.stopAll()
	return code
}

// setUp makes the namespace, applies the RBAC manifest and provisions the
// executor's service account as a user.
func setUp(cfg *rest.Config) error {
	var err error
	if admin, err = kubernetes.NewForConfig(cfg); err != nil {
		return err
	}
	ctx := context.Background()
	if _, err := admin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}, metav1.CreateOptions{}); err != nil {
		return err
	}
	for _, f := range []string{"rbac.yaml", "atelier.yaml"} {
		if _, err := applyManifest(ctx, filepath.Join(manifests, f)); err != nil {
			return err
		}
	}
	u, err := testEnv.AddUser(envtest.User{Name: "system:serviceaccount:" + namespace + ":atelier",
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + namespace, "system:authenticated"}}, cfg)
	if err != nil {
		return fmt.Errorf("provision the service account's user: %w", err)
	}
	executorConfig = u.Config()
	node = newFakeNode(admin)
	return nil
}

// manifests is deploy/kubernetes.
var manifests = filepath.Join("..", "..", "..", "..", "deploy", "kubernetes")

// applyManifest creates a manifest's objects as the admin, so that the API
// server validates them, and returns its Deployments.
func applyManifest(ctx context.Context, path string) ([]appsv1.Deployment, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var deployments []appsv1.Deployment
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(b)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return deployments, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
		var meta metav1.TypeMeta
		if err := yaml.Unmarshal(doc, &meta); err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
		switch meta.Kind {
		case "":
			continue
		case "ServiceAccount":
			var o corev1.ServiceAccount
			if err = yaml.UnmarshalStrict(doc, &o); err == nil {
				_, err = admin.CoreV1().ServiceAccounts(o.Namespace).Create(ctx, &o, metav1.CreateOptions{})
			}
		case "Role":
			var o rbacv1.Role
			if err = yaml.UnmarshalStrict(doc, &o); err == nil {
				_, err = admin.RbacV1().Roles(o.Namespace).Create(ctx, &o, metav1.CreateOptions{})
			}
		case "RoleBinding":
			var o rbacv1.RoleBinding
			if err = yaml.UnmarshalStrict(doc, &o); err == nil {
				_, err = admin.RbacV1().RoleBindings(o.Namespace).Create(ctx, &o, metav1.CreateOptions{})
			}
		case "PersistentVolumeClaim":
			var o corev1.PersistentVolumeClaim
			if err = yaml.UnmarshalStrict(doc, &o); err == nil {
				_, err = admin.CoreV1().PersistentVolumeClaims(o.Namespace).Create(ctx, &o, metav1.CreateOptions{})
			}
		case "Service":
			var o corev1.Service
			if err = yaml.UnmarshalStrict(doc, &o); err == nil {
				_, err = admin.CoreV1().Services(o.Namespace).Create(ctx, &o, metav1.CreateOptions{})
			}
		case "Deployment":
			var o appsv1.Deployment
			if err = yaml.UnmarshalStrict(doc, &o); err == nil {
				_, err = admin.AppsV1().Deployments(o.Namespace).Create(ctx, &o, metav1.CreateOptions{})
				deployments = append(deployments, o)
			}
		default:
			err = fmt.Errorf("unexpected kind %s", meta.Kind)
		}
		if err != nil {
			return nil, fmt.Errorf("apply %s from %s: %w", meta.Kind, path, err)
		}
	}
}

// needCluster skips the test without an API server.
func needCluster(t *testing.T) {
	t.Helper()
	if skipReason != "" {
		t.Skip(skipReason)
	}
}

// fakeNode is the Job controller, garbage collector and kubelet of the
// test cluster; see the comment at the top.
type fakeNode struct {
	client kubernetes.Interface

	mu    sync.Mutex
	jobs  map[types.UID]bool  // Jobs whose pods were created
	procs map[types.UID]*proc // by pod
	logs  map[string]*logBuf  // by namespace/pod
	// Jobs whose names start with one of holdPrefix get no pods; pods of
	// Jobs whose names start with one of noStartPrefix stay Pending.
	holdPrefix, noStartPrefix []string
}

func hasPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

func batchCondition(typ string, at metav1.Time) batchv1.JobCondition {
	return batchv1.JobCondition{Type: batchv1.JobConditionType(typ), Status: corev1.ConditionTrue, LastTransitionTime: at, LastProbeTime: at,
		Reason: "BackoffLimitExceeded", Message: "set by the test"}
}

const nodeName = "envtest-node"

func newFakeNode(c kubernetes.Interface) *fakeNode {
	return &fakeNode{client: c, jobs: map[types.UID]bool{}, procs: map[types.UID]*proc{}, logs: map[string]*logBuf{}}
}

// proc is a running container.
type proc struct {
	cmd      *exec.Cmd
	started  time.Time
	done     chan struct{}
	signaled bool
}

func (n *fakeNode) run(ctx context.Context) {
	for ctx.Err() == nil {
		if err := n.sync(ctx); err != nil && ctx.Err() == nil {
			fmt.Fprintf(os.Stderr, "fake node: %v\n", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(25 * time.Millisecond):
		}
	}
}

func (n *fakeNode) sync(ctx context.Context) error {
	jobs, err := n.client.BatchV1().Jobs(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	live := map[types.UID]bool{}
	for i := range jobs.Items {
		j := &jobs.Items[i]
		if j.DeletionTimestamp != nil {
			continue
		}
		live[j.UID] = true
		n.mu.Lock()
		create := !n.jobs[j.UID] && !hasPrefix(j.Name, n.holdPrefix)
		n.jobs[j.UID] = n.jobs[j.UID] || create
		n.mu.Unlock()
		if create {
			if err := n.createPods(ctx, j); err != nil {
				return err
			}
		}
	}
	pods, err := n.client.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	for i := range pods.Items {
		p := &pods.Items[i]
		if owner := metav1.GetControllerOf(p); owner != nil && !live[owner.UID] && p.DeletionTimestamp == nil {
			// The garbage collector: the pod's Job is gone.
			if err := n.client.CoreV1().Pods(namespace).Delete(ctx, p.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				return err
			}
			continue
		}
		if p.Spec.NodeName == nodeName {
			if err := n.kubelet(ctx, p); err != nil {
				return err
			}
		}
	}
	return nil
}

// createPods does what the Job controller does for an Indexed Job.
func (n *fakeNode) createPods(ctx context.Context, j *batchv1.Job) error {
	yes := true
	for i := range int(*j.Spec.Completions) {
		tmpl := j.Spec.Template.DeepCopy()
		idx := fmt.Sprint(i)
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{
				Name: fmt.Sprintf("%s-%d-%s", j.Name, i, randSuffix()), Namespace: j.Namespace,
				Labels: tmpl.Labels, Annotations: tmpl.Annotations, Finalizers: tmpl.Finalizers,
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "batch/v1", Kind: "Job", Name: j.Name, UID: j.UID, Controller: &yes}},
			},
			Spec: tmpl.Spec,
		}
		if p.Labels == nil {
			p.Labels = map[string]string{}
		}
		if p.Annotations == nil {
			p.Annotations = map[string]string{}
		}
		p.Labels[kube.LabelIndex], p.Annotations[kube.AnnotationIndex] = idx, idx
		p.Labels["batch.kubernetes.io/job-name"] = j.Name
		p.Spec.Hostname = fmt.Sprintf("%s-%d", j.Name, i)
		p.Spec.NodeName = nodeName // and the scheduler's part
		if _, err := n.client.CoreV1().Pods(j.Namespace).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("create pod %d of Job %s: %w", i, j.Name, err)
		}
	}
	return nil
}

func randSuffix() string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])[:5]
}

// kubelet starts, signals and reports a pod's container.
func (n *fakeNode) kubelet(ctx context.Context, p *corev1.Pod) error {
	n.mu.Lock()
	pr := n.procs[p.UID]
	noStart := hasPrefix(p.Labels[kube.LabelRun], n.noStartPrefix)
	n.mu.Unlock()
	terminated := false
	for _, cs := range p.Status.ContainerStatuses {
		terminated = terminated || cs.State.Terminated != nil
	}
	switch {
	case pr == nil && len(p.Status.ContainerStatuses) == 0 && p.DeletionTimestamp == nil && !noStart && p.Status.Phase == corev1.PodPending:
		return n.start(ctx, p)
	case pr != nil && p.DeletionTimestamp != nil && !pr.signaled:
		pr.signaled = true
		// The runtime signals the container's first process, and kills
		// all of it after the grace period.
		_ = pr.cmd.Process.Signal(syscall.SIGTERM)
		grace := time.Duration(*p.DeletionGracePeriodSeconds) * time.Second
		go func() {
			select {
			case <-pr.done:
			case <-time.After(grace):
				_ = syscall.Kill(-pr.cmd.Process.Pid, syscall.SIGKILL)
			}
		}()
	case p.DeletionTimestamp != nil && (terminated || pr == nil) && (p.DeletionGracePeriodSeconds == nil || *p.DeletionGracePeriodSeconds > 0):
		// The kubelet's final deletion once the containers are gone.
		zero := int64(0)
		uid := p.UID
		err := n.client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero, Preconditions: &metav1.Preconditions{UID: &uid}})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return err
		}
	}
	return nil
}

// start runs the pod's container command as a process.
func (n *fakeNode) start(ctx context.Context, p *corev1.Pod) error {
	c := p.Spec.Containers[0]
	podIP := "127.0.0.1"
	env := map[string]string{}
	var envList []string
	for _, e := range c.Env {
		v := expand(e.Value, env)
		if e.ValueFrom != nil && e.ValueFrom.FieldRef != nil {
			switch fp := e.ValueFrom.FieldRef.FieldPath; {
			case fp == "status.podIP":
				v = podIP
			case strings.HasPrefix(fp, "metadata.annotations['"):
				v = p.Annotations[strings.TrimSuffix(strings.TrimPrefix(fp, "metadata.annotations['"), "']")]
			default:
				return fmt.Errorf("pod %s: unsupported field %s", p.Name, fp)
			}
		}
		env[e.Name] = v
		envList = append(envList, e.Name+"="+v)
	}
	argv := make([]string, len(c.Command))
	for i, a := range c.Command {
		argv[i] = expand(a, env)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append([]string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/tmp"}, envList...)
	cmd.Dir = c.WorkingDir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = w, w
	lb := newLogBuf()
	n.mu.Lock()
	n.logs[p.Namespace+"/"+p.Name] = lb
	n.mu.Unlock()
	pr := &proc{cmd: cmd, done: make(chan struct{}), started: time.Now()}
	if err := cmd.Start(); err != nil {
		w.Close()
		r.Close()
		lb.close()
		// As a runtime reports a command it cannot run.
		return n.setStatus(ctx, p, func(s *corev1.PodStatus) {
			s.Phase = corev1.PodFailed
			s.ContainerStatuses = []corev1.ContainerStatus{{Name: c.Name, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
				ExitCode: 128, Reason: "StartError", Message: err.Error(), FinishedAt: metav1.Now()}}}}
		})
	}
	w.Close()
	n.mu.Lock()
	n.procs[p.UID] = pr
	n.mu.Unlock()
	go lb.fill(r)
	if err := n.setStatus(ctx, p, func(s *corev1.PodStatus) {
		s.Phase = corev1.PodRunning
		s.PodIP = podIP
		s.StartTime = &metav1.Time{Time: pr.started}
		s.ContainerStatuses = []corev1.ContainerStatus{{Name: c.Name, Ready: true, Started: &[]bool{true}[0],
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Time{Time: pr.started}}}}}
	}); err != nil {
		return err
	}
	go func() {
		err := cmd.Wait()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			ws := ee.Sys().(syscall.WaitStatus)
			if ws.Signaled() {
				code = 128 + int(ws.Signal())
			} else {
				code = ws.ExitStatus()
			}
		}
		// The container's other processes die with it.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-lb.filled
		close(pr.done)
		phase := corev1.PodSucceeded
		if code != 0 {
			phase = corev1.PodFailed
		}
		err = n.setStatus(context.Background(), p, func(s *corev1.PodStatus) {
			s.Phase = phase
			s.ContainerStatuses = []corev1.ContainerStatus{{Name: c.Name, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
				ExitCode: int32(code), StartedAt: metav1.Time{Time: pr.started}, FinishedAt: metav1.Now()}}}}
		})
		if err != nil && !apierrors.IsNotFound(err) {
			fmt.Fprintf(os.Stderr, "fake kubelet: report the end of pod %s: %v\n", p.Name, err)
		}
	}()
	return nil
}

// setStatus changes a pod's status as its kubelet.
func (n *fakeNode) setStatus(ctx context.Context, p *corev1.Pod, change func(*corev1.PodStatus)) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := n.client.CoreV1().Pods(p.Namespace).Get(ctx, p.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if cur.UID != p.UID {
			return apierrors.NewNotFound(corev1.Resource("pods"), p.Name)
		}
		change(&cur.Status)
		_, err = n.client.CoreV1().Pods(p.Namespace).UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		return err
	})
}

// stopAll kills what still runs when the tests end.
func (n *fakeNode) stopAll() {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, p := range n.procs {
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	}
}

// expand is Kubernetes' $(VAR) expansion of command, args and env values:
// $(NAME) of a variable defined before becomes its value, $$ becomes $, and
// anything else stays as it is.
func expand(s string, env map[string]string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				b.WriteString("$(")
				i++
				continue
			}
			name := s[i+2 : i+2+end]
			if v, ok := env[name]; ok {
				b.WriteString(v)
			} else {
				b.WriteString("$(" + name + ")")
			}
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String()
}

// logBuf is a container's output, line by line with the runtime's
// timestamps.
type logBuf struct {
	mu     sync.Mutex
	cond   *sync.Cond
	lines  [][]byte // "<time> text\n"
	closed bool
	filled chan struct{}
}

func newLogBuf() *logBuf {
	l := &logBuf{filled: make(chan struct{})}
	l.cond = sync.NewCond(&l.mu)
	return l
}

func (l *logBuf) fill(r io.ReadCloser) {
	defer r.Close()
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			l.mu.Lock()
			l.lines = append(l.lines, append([]byte(time.Now().UTC().Format(time.RFC3339Nano)+" "), line...))
			l.cond.Broadcast()
			l.mu.Unlock()
		}
		if err != nil {
			break
		}
	}
	l.close()
}

func (l *logBuf) close() {
	l.mu.Lock()
	if !l.closed {
		l.closed = true
		close(l.filled)
	}
	l.cond.Broadcast()
	l.mu.Unlock()
}

// Stream implements kube.LogSource over the fake node's containers, with
// the API's one-second resolution of since.
func (n *fakeNode) Stream(ctx context.Context, ns, pod, container string, since time.Time) (io.ReadCloser, error) {
	n.mu.Lock()
	lb := n.logs[ns+"/"+pod]
	n.mu.Unlock()
	if lb == nil {
		return nil, fmt.Errorf("container %s in pod %s is waiting to start", container, pod)
	}
	since = since.Truncate(time.Second)
	pr, pw := io.Pipe()
	stop := context.AfterFunc(ctx, func() {
		lb.mu.Lock()
		lb.cond.Broadcast()
		lb.mu.Unlock()
	})
	go func() {
		defer stop()
		i := 0
		for {
			lb.mu.Lock()
			for i == len(lb.lines) && !lb.closed && ctx.Err() == nil {
				lb.cond.Wait()
			}
			batch := lb.lines[i:]
			i = len(lb.lines)
			closed := lb.closed
			lb.mu.Unlock()
			if ctx.Err() != nil {
				pw.CloseWithError(ctx.Err())
				return
			}
			for _, line := range batch {
				if at, err := time.Parse(time.RFC3339Nano, string(line[:bytes.IndexByte(line, ' ')])); err == nil && at.Before(since) {
					continue
				}
				if _, err := pw.Write(line); err != nil {
					return
				}
			}
			if closed {
				pw.Close()
				return
			}
		}
	}()
	return pr, nil
}
