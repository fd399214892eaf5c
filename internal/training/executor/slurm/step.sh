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
# No command substitution or external command runs once the task has
# started: Slurm's SIGTERM reaches every process of the step, and would kill
# a subshell or a head(1) midway. now sets $ms to the time in milliseconds.
now() { local t=${EPOCHREALTIME/./}; ms=$((t / 1000)); }

# The task runs as a child of this script, which waits for it while it
# watches for the executor's terminate request: $ctl/cancel, holding the
# grace period in milliseconds. Terminate writes it, then has Slurm send
# SIGTERM to every process of the step (scancel --signal=TERM). Whichever
# comes first, this script makes sure the task got SIGTERM (with its
# default disposition, which env(1) restores), while the sandbox, its init
# and this script ignore it, so that a task that traps it and exits
# cleanly is recorded as such. Once the grace period is over it SIGKILLs
# the sandbox's init, which ends everything in it: killing it here, rather
# than with Slurm's SIGKILL to the whole step, leaves no orphan that would
# keep the step from ending and the status from being recorded.
term=
trap '[ -n "$term" ] || { now; term=$ms; }' TERM
trap '' HUP INT
if [ "${box[0]}" = unsandboxed ]; then
  mapfile -d '' -t envs <"$ctl/env"
  for ((j = 0; j < ${#topology[@]}; j += 2)); do envs+=("${topology[j]}=${topology[j + 1]}"); done
  cd "${box[1]}" || exit 126
  (trap '' HUP INT TERM; exec /usr/bin/env -i --default-signal=HUP,INT,TERM "${envs[@]}" "${argv[@]}") &
  task=$! init=$!
else
  for ((j = 0; j < ${#topology[@]}; j += 2)); do box+=(--setenv "${topology[j]}" "${topology[j + 1]}"); done
  rm -f "$ctl/info"
  (trap '' HUP INT TERM; exec "${box[@]}" --info-fd 3 -- /usr/bin/env --default-signal=HUP,INT,TERM -- "${argv[@]}") 3>"$ctl/info" &
  task=$! init=
fi
# The sandbox's init, whose child is the task (the leader of its own
# session and process group).
find_init() {
  local info=
  [ -n "$init" ] || read -r -d '' -n 256 info 2>/dev/null <"$ctl/info"
  if [[ $info =~ \"child-pid\":\ *([0-9]+) ]]; then
    init=${BASH_REMATCH[1]}
  fi
}
exec {tick}<> <(:) # read -t on it sleeps without a process
sent=
while kill -0 "$task" 2>/dev/null; do
  if [ -z "$sent" ] && { [ -n "$term" ] || [ -e "$ctl/cancel" ]; }; then
    [ -n "$term" ] || { now; term=$ms; }
    sent=1
    find_init
    if [ "${box[0]}" = unsandboxed ]; then
      kill -TERM "$task" 2>/dev/null
    elif [ -n "$init" ] && read -r child _ 2>/dev/null <"/proc/$init/task/$init/children"; then
      kill -TERM -- "-$child" 2>/dev/null || kill -TERM "$child" 2>/dev/null
    fi
  fi
  if [ -n "$term" ]; then
    grace=
    read -r -n 32 grace 2>/dev/null <"$ctl/cancel"
    [[ $grace =~ ^[0-9]+$ ]] || grace=0
    now
    if [ "$ms" -ge $((term + grace)) ]; then
      find_init
      kill -KILL "${init:-$task}" 2>/dev/null
    fi
  fi
  read -r -t 0.05 -u "$tick"
done
wait "$task"
