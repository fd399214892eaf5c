#!/usr/bin/env bash
# down.sh BASE: stops what up.sh BASE started (slurmd, slurmctld, and munged
# when up.sh started it) and removes BASE.
base=${1:?usage: down.sh BASE}
for f in "$base"/run/slurmd-*.pid "$base"/run/slurmctld.pid; do
  [ -s "$f" ] && kill "$(cat "$f")" 2>/dev/null
done
if [ -e "$base/run/munge-started" ] && [ -s /run/munge/munged.pid ]; then
  kill "$(cat /run/munge/munged.pid)" 2>/dev/null
fi
for _ in $(seq 1 50); do
  alive=false
  for f in "$base"/run/slurmd-*.pid "$base"/run/slurmctld.pid; do
    [ -s "$f" ] && kill -0 "$(cat "$f" 2>/dev/null)" 2>/dev/null && alive=true
  done
  $alive || break
  sleep 0.1
done
rm -rf "$base"
