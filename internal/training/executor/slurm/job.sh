#!/bin/bash
# Atelier's batch script for one training job (see the package doc of
# internal/training/executor/slurm). It runs as the job account on the
# job's first node, outside every task's sandbox, and is the only process
# that records the tasks' exit statuses.
# Arguments: the step script, then one control directory per task.
step=$1
shift
ctls=("$@")
n=${#ctls[@]}
# A cancellation of the job's steps (scancel --signal) does not reach this
# script; a cancellation of the whole job ends it, and the executor then
# finds no status and reports the task lost.
trap '' HUP INT TERM USR1 USR2

# The tasks' hosts, in node order: the address Slurm reaches each node at.
mapfile -t nodes < <(scontrol show hostnames "$SLURM_JOB_NODELIST")
declare -A addr
while read -r line; do
  name=${line#NodeName=}
  name=${name%% *}
  a=${line#* NodeAddr=}
  [ "$a" != "$line" ] && addr[$name]=${a%% *}
done < <(scontrol show node -o "$SLURM_JOB_NODELIST")
hosts=()
for node in "${nodes[@]}"; do hosts+=("${addr[$node]:-$node}"); done
list=$(IFS=,; echo "${hosts[*]}")

# MASTER_PORT: a port no socket on this node (where task 0 runs) is bound
# to, among 20000-59999, by its hexadecimal form in /proc/net/tcp{,6}.
port=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
for _ in 1 2 3 4 5 6 7 8; do
  grep -qs ":$(printf %04X "$port") " /proc/net/tcp /proc/net/tcp6 || break
  port=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
done

now() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }
declare -A task started
for i in "${!ctls[@]}"; do
  ctl=${ctls[$i]}
  started[$i]=$(now)
  if [ -e "$ctl/cancel" ]; then
    # Terminated before it started: recorded as killed by SIGTERM.
    printf '143 %s %s\n' "${started[$i]}" "$(now)" >"$ctl/exit.tmp" && mv -f "$ctl/exit.tmp" "$ctl/exit"
    continue
  fi
  srun --nodes=1 --ntasks=1 --relative="$i" --job-name="task-$i" --input=none --output=none --error="$ctl/srun.err" \
    --mpi=none --kill-on-bad-exit=0 /bin/bash "$step" "$ctl" "$i" "$n" "$list" "$port" "${hosts[$i]}" &
  task[$!]=$i
done
while [ ${#task[@]} -gt 0 ]; do
  wait -n -p pid "${!task[@]}"
  code=$?
  [ -n "${pid:-}" ] || continue
  i=${task[$pid]}
  unset "task[$pid]"
  ctl=${ctls[$i]}
  printf '%d %s %s\n' "$code" "${started[$i]}" "$(now)" >"$ctl/exit.tmp" && mv -f "$ctl/exit.tmp" "$ctl/exit"
done
