# Sourced by .ci/run (bash, set -euo pipefail, apt_install in scope), or run
# by hand from the repository root: `bash testinfra/kubernetes/ci.sh` builds
# what is missing and prints the KUBEBUILDER_ASSETS to export.
#
# The Kubernetes executor's tests run a real kube-apiserver and etcd through
# controller-runtime's envtest, which starts and stops them itself: this
# script only provides KUBEBUILDER_ASSETS, a directory holding both
# binaries, so nothing is left running and no cleanup is registered.
#
# etcd is Debian's etcd-server. kube-apiserver is not packaged by Debian, so
# it is built from the Go module proxy: a scratch module that requires
# k8s.io/kubernetes at the pinned version, with the replace directives
# k8s.io/kubernetes' own go.mod points at ./staging turned into the published
# k8s.io/* modules of the same release. That takes about six minutes on
# two cores; the binary is kept under the CI cache and reused, which makes
# a warm run take a second.

k8s_version=v1.37.2                      # kube-apiserver; k8s.io/* staging modules are v0.37.2,
k8s_staging_version="v0.${k8s_version#v1.}" # the release of client-go in go.mod
k8s_assets="${ATELIER_CI_CACHE:-$HOME/.cache/atelier-ci}/kubernetes/$k8s_version"

k8s_build_apiserver() {
  local src="$k8s_assets/src" gomod minor
  mkdir -p "$src"
  (
    set -euo pipefail
    cd "$src"
    rm -f go.mod go.sum
    go mod init apibuild >/dev/null 2>&1
    gomod="$(go mod download -json "k8s.io/kubernetes@$k8s_version" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')"
    # Every module k8s.io/kubernetes replaces with its ./staging copy.
    awk '$2 == "=>" && $3 ~ /^\.\/staging\// {print $1}' "$gomod" | while read -r m; do
      echo "replace $m => $m $k8s_staging_version" >>go.mod
    done
    go get -tool "k8s.io/kubernetes/cmd/kube-apiserver@$k8s_version"
    minor="${k8s_version#v1.}"; minor="${minor%%.*}"
    # Without these the server says it is v0.0.0-master.
    nice go build -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=$k8s_version -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor" \
      -o "$k8s_assets/kube-apiserver.tmp" k8s.io/kubernetes/cmd/kube-apiserver
    mv "$k8s_assets/kube-apiserver.tmp" "$k8s_assets/kube-apiserver"
  )
}

if ! command -v etcd >/dev/null 2>&1 && [ ! -x /usr/bin/etcd ]; then
  if declare -F apt_install >/dev/null; then
    apt_install etcd-server
  else
    apt-get install -y --no-install-recommends etcd-server
  fi
fi
if [ ! -x "$k8s_assets/kube-apiserver" ]; then
  echo "kube-apiserver $k8s_version is not in $k8s_assets; building it from the Go module proxy (about six minutes)"
  k8s_started=$SECONDS
  k8s_build_apiserver
  echo "kube-apiserver built in $((SECONDS - k8s_started)) s"
fi
ln -sf "$(command -v etcd || echo /usr/bin/etcd)" "$k8s_assets/etcd"
export KUBEBUILDER_ASSETS="$k8s_assets"
echo "Kubernetes suites enabled: KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS ($("$k8s_assets/kube-apiserver" --version))"
