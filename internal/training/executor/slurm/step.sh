#!/bin/bash
# Atelier's step script: srun runs it once per task, as the job account on
# the task's node. It sends its own output and the task's to the task's log
# and runs the task's argv in its bubblewrap sandbox (or bare, when the
# operator opted out), with the topology variables on top of the task's
# environment. Everything it reads was written by the executor as NUL-
# separated lists, so that no value passes through a shell's parsing.
# Arguments: control directory, task index, task count, hosts (comma-
# separated), MASTER_PORT, this task's host.
ctl=$1 index=$2 num=$3 hosts=$4 port=$5 me=$6
exec </dev/null
# The step's id, for the executor's Terminate and Usage; then the
# executor's mark of a task terminated before it started, which Terminate
# writes before it looks for the step id (so one of them sees the other).
printf '%s.%s\n' "$SLURM_JOB_ID" "$SLURM_STEP_ID" >"$ctl/step.tmp" && mv -f "$ctl/step.tmp" "$ctl/step"
[ -e "$ctl/cancel" ] && exit 143
mapfile -d '' -t logpath <"$ctl/log"
exec >>"${logpath[0]}" 2>&1 || exit 126
mapfile -d '' -t box <"$ctl/sandbox"
mapfile -d '' -t argv <"$ctl/argv"
topology=(VC_TASK_INDEX "$index" RANK "$index" VC_WORKER_NUM "$num" WORLD_SIZE "$num" MA_NUM_HOSTS "$num"
  VC_WORKER_HOSTS "$hosts" MASTER_ADDR "${hosts%%,*}" MASTER_PORT "$port" MA_CURRENT_IP "$me")
# The sandbox and its init ignore SIGTERM, so that a task that traps it
# and exits cleanly is recorded as such; env(1) gives the task the default
# dispositions back. SIGKILL (after the grace period) still ends them all.
trap '' HUP INT TERM
if [ "${box[0]}" = unsandboxed ]; then
  mapfile -d '' -t envs <"$ctl/env"
  for ((j = 0; j < ${#topology[@]}; j += 2)); do envs+=("${topology[j]}=${topology[j + 1]}"); done
  cd "${box[1]}" || exit 126
  exec /usr/bin/env -i --default-signal=HUP,INT,TERM "${envs[@]}" "${argv[@]}"
fi
for ((j = 0; j < ${#topology[@]}; j += 2)); do box+=(--setenv "${topology[j]}" "${topology[j + 1]}"); done
exec "${box[@]}" -- /usr/bin/env --default-signal=HUP,INT,TERM -- "${argv[@]}"
