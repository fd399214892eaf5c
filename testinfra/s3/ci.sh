# shellcheck shell=bash
# A real S3 server for the object-store suites: versitygw with its POSIX
# backend, on a free loopback port, with random credentials, its objects in
# a temporary folder. Sourced by .ci/run (or by hand, from the repository
# root, in bash); it exports
#
#   ATELIER_TEST_S3_ENDPOINT    http://127.0.0.1:<port> (path-style)
#   ATELIER_TEST_S3_ACCESS_KEY  ATELIER_TEST_S3_SECRET_KEY  ATELIER_TEST_S3_REGION
#
# which the tests of internal/obs/s3store (TestRealServerContract and the
# behaviour tests' real-server cases) and internal/server
# (TestServerOnS3ObjectStore) read, and appends the command that stops the
# server and removes its folder to ci_cleanups.
#
# versitygw is built from the Go module proxy (two to three minutes cold,
# half a minute with a warm Go build cache) and
# kept under ${ATELIER_CI_CACHE:-$HOME/.cache/atelier-ci}/s3/, one folder
# per version, so that later runs reuse it at once. Everything here is
# named s3_… because it runs inside .ci/run's shell.

s3_version=v1.8.0
s3_cache="${ATELIER_CI_CACHE:-$HOME/.cache/atelier-ci}/s3"
s3_bin="$s3_cache/versitygw-$s3_version/versitygw"

if [ ! -x "$s3_bin" ]; then
  echo "s3: building versitygw $s3_version into $s3_cache (two to three minutes, once)"
  mkdir -p "$s3_cache"
  # Built beside its final place and moved there whole, so that an
  # interrupted build never leaves a binary that a later run would trust.
  s3_build="$(mktemp -d "$s3_cache/build.XXXXXX")"
  if ! GOBIN="$s3_build" go install "github.com/versity/versitygw/cmd/versitygw@$s3_version"; then
    rm -rf "$s3_build"
    echo "ERROR: s3: go install of versitygw $s3_version failed" >&2
    return 1
  fi
  mkdir -p "$(dirname "$s3_bin")"
  mv "$s3_build/versitygw" "$s3_bin"
  rm -rf "$s3_build"
fi

s3_dir="$(mktemp -d "${TMPDIR:-/tmp}/atelier-s3.XXXXXX")"
mkdir -p "$s3_dir/root"
# Random hex (10 and 20 bytes): versitygw wants no particular form, and
# nothing else on this machine should be able to guess them.
s3_access="ci$(od -An -N10 -tx1 /dev/urandom | tr -d ' \n')"
s3_secret="$(od -An -N20 -tx1 /dev/urandom | tr -d ' \n')"
s3_region=us-east-1

# s3_ready says whether versitygw, process $2, listens on port $1 and
# answers HTTP there (an unsigned request gets 403). Asking ss for the
# listening process, not only whether something answers, tells our server
# from another that took the port first.
s3_ready() {
  local listener code
  # Captured, not piped into grep -q: under pipefail, ss killed by SIGPIPE
  # would fail the check.
  listener="$(ss -ltnpH "sport = :$1" 2>/dev/null)" || return 1
  [[ "$listener" == *"pid=$2,"* ]] || return 1
  code="$(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$1/" 2>/dev/null)" || true
  [ -n "$code" ] && [ "$code" != 000 ]
}

# A random port that nothing listens on; should another process take it
# before versitygw binds, versitygw exits and the next port is tried.
s3_pid=
for _ in 1 2 3 4 5 6 7 8 9 10; do
  s3_port=$((20000 + RANDOM % 30000))
  if (exec 3<>"/dev/tcp/127.0.0.1/$s3_port") 2>/dev/null; then
    continue
  fi
  "$s3_bin" --access "$s3_access" --secret "$s3_secret" --region "$s3_region" \
    --port "127.0.0.1:$s3_port" --quiet posix "$s3_dir/root" \
    </dev/null >"$s3_dir/versitygw.log" 2>&1 &
  s3_pid=$!
  s3_up=false
  # Ready in about 0.2 s on this machine; 10 s for a loaded one.
  for _ in $(seq 1 100); do
    if s3_ready "$s3_port" "$s3_pid"; then
      s3_up=true
      break
    fi
    # A zombie still answers kill -0: ask ps whether it runs.
    s3_state="$(ps -o stat= -p "$s3_pid" 2>/dev/null)" || break
    [[ "$s3_state" != Z* ]] || break
    sleep 0.1
  done
  $s3_up && break
  kill "$s3_pid" 2>/dev/null || true
  wait "$s3_pid" 2>/dev/null || true
  s3_pid=
done
if [ -z "$s3_pid" ]; then
  echo "ERROR: s3: versitygw did not start; its last log:" >&2
  tail -20 "$s3_dir/versitygw.log" >&2 || true
  rm -rf "$s3_dir"
  return 1
fi

ci_cleanups+=("kill $s3_pid 2>/dev/null; wait $s3_pid 2>/dev/null; rm -rf '$s3_dir'")
export ATELIER_TEST_S3_ENDPOINT="http://127.0.0.1:$s3_port"
export ATELIER_TEST_S3_ACCESS_KEY="$s3_access"
export ATELIER_TEST_S3_SECRET_KEY="$s3_secret"
export ATELIER_TEST_S3_REGION="$s3_region"
echo "s3: versitygw $s3_version (pid $s3_pid) serves $ATELIER_TEST_S3_ENDPOINT from $s3_dir/root"
