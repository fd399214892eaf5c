#!/usr/bin/env bash
# floors: Atelier measured side by side with ../shared/floors on this
# machine, in one run: the table of docs/performance.md.
#
#   bench/floors.sh                      # 1,000,000 samples
#   N=200000 bench/floors.sh             # smaller, quicker
#
# 1. authenticated GET /v3/auth/projects, 32 connections, server on one core:
#    Atelier (started pinned to CPU 0, so that Go sizes itself to one core)
#    against the HMAC floor, with the floor's own wrk script;
# 2. the SQLite floor (index + label side table, time-ordered ids, 64 MiB
#    cache): its load rate and its label pages per second;
# 3. Atelier: import of the same number of samples (datagen's manifest)
#    through the API, then label pages of 100 over HTTP at 1, 4 and 32
#    clients, and the dataset's detail at 32 clients (bench/authload);
#    then (unless ATELIER_ONLY) ROUNDS (3) rounds of the floor's label pages
#    and Atelier's at one client in turn, for the page ratio side by side.
# Needs wrk (apt-get install wrk) and GNU time. Run it on an idle machine.
#
#   ATELIER_ONLY=1 bench/floors.sh       # step 3 alone (a re-run of Atelier's side)
#   DATABASE=postgres://… bench/floors.sh  # step 3 on PostgreSQL (a fresh, empty database)
#   SETTLE=10                            # seconds between the import and the pages,
#                                        # for the import's last WAL checkpoint
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-1000000}
DURATION=${DURATION:-15s}
FLOORS=${FLOORS:-$(cd .. && pwd)/shared/floors}
DIR=$(mktemp -d /tmp/atelier-floors.XXXXXX)
PORT=${PORT:-18580}
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$DIR"' EXIT
go build -o "$DIR/atelier" ./cmd/atelier
go build -o "$DIR/authload" ./bench/authload

SETTLE=${SETTLE:-10}
db_flag=()
[ -n "${DATABASE:-}" ] && db_flag=(--database "$DATABASE")
if [ -z "${ATELIER_ONLY:-}" ]; then
echo "## 1. authenticated GET /v3/auth/projects, one core"
taskset -c 0 "$DIR/atelier" serve --data-dir "$DIR/auth" --listen "127.0.0.1:$PORT" --log-level warn &
pid=$!
for _ in $(seq 1 150); do [ -f "$DIR/auth/bootstrap.json" ] && break; sleep 0.2; done
sleep 1
token=$(python3 - "$DIR/auth/bootstrap.json" "$PORT" <<'EOF'
import json, sys, urllib.request
a = json.load(open(sys.argv[1]))
body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": a["user_name"], "password": a["password"], "domain": {"name": a["domain_name"]}}}},
                 "scope": {"project": {"name": a["project_name"]}}}}
req = urllib.request.Request(f"http://127.0.0.1:{sys.argv[2]}/v3/auth/tokens", json.dumps(body).encode(), {"Content-Type": "application/json"})
print(urllib.request.urlopen(req).headers["X-Subject-Token"])
EOF
)
ATELIER_PID=$pid "$FLOORS/httpfloor/run.sh" "http://127.0.0.1:$PORT/v3/auth/projects" "X-Auth-Token: $token"
kill $pid; wait $pid 2>/dev/null || true

echo "## 2. SQLite floor, $N rows"
# KEEP: the floor's database stays (in $DIR) for the pages of step 3.
SEQID=1 CACHE_MIB=64 ROWS=$N KEEP=1 BIN_DIR="$DIR/floorbin" WORKDIR="$DIR/sqlitefloor" "$FLOORS/sqlitefloor/run.sh" | grep -E 'rows_per_s|pages_per_s|peak_rss'
fi

echo "## 3. Atelier: import of $N samples, then pages and detail over HTTP${DATABASE:+ (PostgreSQL)}"
go run ./bench/datagen -out "$DIR/data" -bucket bench-data -n "$N" -labels 20 -type image_classification >/dev/null
. bench/lib.sh
BIN=$DIR/atelier
"$BIN" serve --data-dir "$DIR/data" --listen "127.0.0.1:$((PORT + 1))" --log-level warn "${db_flag[@]}" &
pid=$!
export ATELIER_BOOTSTRAP=$DIR/data/bootstrap.json
for _ in $(seq 1 150); do [ -f "$ATELIER_BOOTSTRAP" ] && break; sleep 0.2; done
sleep 1
start=$(date +%s.%N)
id=$(import_manifest floors)
end=$(date +%s.%N)
awk -v n="$N" -v s="$start" -v e="$end" 'BEGIN{printf "import of %d samples: %.1f s, %.0f samples/s", n, e-s, n/(e-s)}'
awk '/VmHWM/{printf " (server peak RSS %.0f MB)\n", $2/1024}' "/proc/$pid/status"
sleep "$SETTLE"
page="/v2/{project_id}/datasets/$id/data-annotations/samples?label_name=label-0{rand:10}&offset={rand:10}&limit=100"
for c in 1 4 32; do
  "$DIR/authload" -bootstrap "$ATELIER_BOOTSTRAP" -path "$page" -c "$c" -d "$DURATION"
done
# The page ratio, side by side in time: the floor's label pages and
# Atelier's (one client) in turn, ROUNDS times. A VM's speed drifts by a
# third over minutes here, more than the gap between two runs of either, so
# each Atelier run is held against the floor's runs just before and after.
if [ -f "$DIR/sqlitefloor/index.db" ]; then
  floor_pages() {
    "$DIR/floorbin/sqlitefloor" -mode query -db "$DIR/sqlitefloor/index.db" -pages 3000 -cache-mib 64 |
      sed -n 's/^label_side_table .*pages_per_s=\([0-9]*\).*/\1/p'
  }
  f=$(floor_pages)
  for r in $(seq 1 "${ROUNDS:-3}"); do
    a=$("$DIR/authload" -bootstrap "$ATELIER_BOOTSTRAP" -path "$page" -c 1 -d 10s | sed -n 's/.* \([0-9]*\) req\/s.*/\1/p')
    g=$(floor_pages)
    if [ -z "$a" ] || [ -z "$f" ] || [ -z "$g" ]; then
      echo "pages side by side, round $r: a rate could not be read (floor '$f' '$g', Atelier '$a')" >&2
      exit 1
    fi
    awk -v r="$r" -v f="$f" -v a="$a" -v g="$g" 'BEGIN{printf "pages side by side, round %d: floor %d, Atelier %d (1 client), floor %d: ratio %.2f\n", r, f, a, g, 2*a/(f+g)}'
    f=$g
  done
fi
"$DIR/authload" -bootstrap "$ATELIER_BOOTSTRAP" -path "/v2/{project_id}/datasets/$id" -c 32 -d "$DURATION"
