package server

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atelier-dev/atelier/internal/config"
)

// TestKubeExecutorUnreachable: --executor kubernetes with a cluster the
// server cannot reach serves the API but refuses jobs, saying why. (The
// executor against a real API server is internal/training/executor/kube's.)
func TestKubeExecutorUnreachable(t *testing.T) {
	dir := t.TempDir()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	// Port 1 on loopback refuses connections at once.
	if err := os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.Config{DataDir: dir, JobsDir: filepath.Join(dir, "jobs"), Executor: "kubernetes", KubernetesKubeconfig: kubeconfig,
		KubernetesNamespace: "atelier", KubernetesJobsClaim: "atelier-jobs", KubernetesDefaultImage: "img", KubernetesCPU: 4, KubernetesMemoryMiB: 16384}
	ex, msg := kubeExecutor(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if ex != nil || !strings.Contains(msg, "cannot reach its Kubernetes cluster") {
		t.Errorf("kubeExecutor = %v, %q; want no executor and the reason jobs are refused", ex, msg)
	}
}
