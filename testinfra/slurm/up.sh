#!/usr/bin/env bash
# up.sh BASE: starts Atelier's test Slurm cluster (munge, slurmctld, and one
# slurmd per node, all on loopback) with its state under BASE, and waits
# until every node is idle. Needs root and Debian's slurm-wlm and munge.
# Prints the variables the tests read, as shell assignments. down.sh BASE
# stops it.
set -euo pipefail
base=${1:?usage: up.sh BASE}
here=$(cd "$(dirname "$0")" && pwd)
nodes=${ATELIER_SLURM_NODES:-2}
# Ports away from Slurm's defaults (6817/6818), so that a real Slurm on the
# machine is left alone, and from any other test cluster's: the first run
# of nodes+2 ports from 16817 on that nothing listens on.
listening() { grep -qs ":$(printf %04X "$1") [0-9A-F:]* 0A " /proc/net/tcp /proc/net/tcp6; }
ctld_port=${ATELIER_SLURM_PORT:-16817}
while :; do
  busy=false
  for p in $(seq "$ctld_port" $((ctld_port + nodes + 1))); do listening "$p" && busy=true; done
  $busy || break
  ctld_port=$((ctld_port + 10))
done

mkdir -p "$base"/{state,spool,log,run,etc}
# Each test node claims 8 cores (see slurm.conf.in) and the machine's
# memory as slurmd -C measures it, less 1 GiB; the nodes share the machine
# and the tests' jobs are small.
mem=$(slurmd -C | head -1 | sed -E 's/.*RealMemory=([0-9]+).*/\1/')
mem=$((mem > 2048 ? mem - 1024 : mem))
names=()
for i in $(seq 0 $((nodes - 1))); do names+=("atelier-n$i"); done
names+=(atelier-p0) # the atelier-pending partition's
node_lines=""
for i in "${!names[@]}"; do
  node_lines+="NodeName=${names[$i]} NodeHostname=$(hostname -s) NodeAddr=127.0.0.1 Port=$((ctld_port + 1 + i)) CPUs=8 Sockets=1 CoresPerSocket=8 ThreadsPerCore=1 RealMemory=$mem State=UNKNOWN"$'\n'
done
node_list=$(IFS=,; echo "${names[*]:0:$nodes}")
conf="$base/etc/slurm.conf"
sed -e "s#@BASE@#$base#g" -e "s#@HOST@#$(hostname -s)#g" -e "s#@CTLD_PORT@#$ctld_port#g" -e "s#@NODES@#$nodes#g" -e "s#@NODE_LIST@#$node_list#g" \
  "$here/slurm.conf.in" | awk -v lines="$node_lines" '{ if ($0 == "@NODE_LINES@") printf "%s", lines; else print }' >"$conf"
for n in "${names[@]}"; do mkdir -p "$base/spool/$n"; done
export SLURM_CONF=$conf

# munge: the machine's daemon when one runs, else one started here.
if ! munge -n </dev/null >/dev/null 2>&1; then
  mkdir -p /run/munge /var/log/munge /var/lib/munge
  chown munge:munge /run/munge /var/log/munge /var/lib/munge
  [ -s /etc/munge/munge.key ] || { dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none; chown munge:munge /etc/munge/munge.key; chmod 400 /etc/munge/munge.key; }
  runuser -u munge -- /usr/sbin/munged
  echo started >"$base/run/munge-started"
fi

setsid /usr/sbin/slurmctld -D -i -f "$conf" >"$base/log/slurmctld.out" 2>&1 </dev/null &
ctld=$!
for n in "${names[@]}"; do
  setsid /usr/sbin/slurmd -D -f "$conf" -N "$n" >"$base/log/slurmd-$n.out" 2>&1 </dev/null &
done
for _ in $(seq 1 150); do
  if ! kill -0 "$ctld" 2>/dev/null; then
    echo "up.sh: slurmctld exited; see $base/log/slurmctld.out" >&2
    exit 1
  fi
  idle=$(sinfo -h -N -o '%N %T' 2>/dev/null | awk '$2 == "idle"' | wc -l)
  if [ "$idle" -eq "${#names[@]}" ]; then
    echo "SLURM_CONF=$conf"
    exit 0
  fi
  sleep 0.1
done
echo "up.sh: the Slurm nodes are not idle after 15 s; see $base/log" >&2
sinfo -N >&2 || true
exit 1
