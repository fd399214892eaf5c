# Sourced by .ci/run (bash, as root): a two-node Slurm cluster on this
# machine for the Slurm executor's tests (internal/training/executor/slurm,
# and the server's end-to-end test on Slurm). Installs Debian's Slurm and
# munge when missing, creates the unprivileged job account, starts the
# cluster under a temporary directory (about 2 s) and exports:
#   ATELIER_TEST_SLURM=1            the suites run
#   SLURM_CONF                      the cluster's slurm.conf, for the client commands
#   ATELIER_TEST_SLURM_USER         the account jobs run as
#   ATELIER_TEST_SLURM_PARTITION    the partition (two nodes)
#   ATELIER_TEST_SLURM_PENDING_PARTITION  a one-node partition no other test uses
slurm_ci_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if ! command -v sbatch >/dev/null 2>&1 || ! command -v slurmctld >/dev/null 2>&1 ||
  ! command -v slurmd >/dev/null 2>&1 || ! command -v munged >/dev/null 2>&1; then
  echo "Slurm or munge is missing; installing slurm-wlm slurmrestd munge"
  apt_install slurm-wlm slurmrestd munge
fi
command -v bwrap >/dev/null 2>&1 || apt_install bubblewrap
if ! id atelier-job >/dev/null 2>&1; then
  as_root useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin atelier-job
fi
slurm_ci_base=$(mktemp -d /tmp/atelier-slurm.XXXXXX)
chmod 755 "$slurm_ci_base"
if slurm_ci_env=$(as_root "$slurm_ci_dir/up.sh" "$slurm_ci_base"); then
  export "$slurm_ci_env"
  export ATELIER_TEST_SLURM=1 ATELIER_TEST_SLURM_USER=atelier-job ATELIER_TEST_SLURM_PARTITION=atelier \
    ATELIER_TEST_SLURM_PENDING_PARTITION=atelier-pending
  ci_cleanups+=("as_root '$slurm_ci_dir/down.sh' '$slurm_ci_base'")
  echo "Slurm suites enabled: $SLURM_CONF"
else
  as_root "$slurm_ci_dir/down.sh" "$slurm_ci_base"
  echo "ERROR: the test Slurm cluster did not start" >&2
  exit 1
fi
