#!/usr/bin/env bash
# Authenticated GET throughput of one replica against three, on one
# PostgreSQL database: starts one atelier replica, drives it with authload,
# adds two more on the same database and drives all three (client i talks
# to replica i mod 3, as a load balancer spreads connections), and prints
# both figures and requests/s per core of the machine (the replicas, the
# load generator and PostgreSQL share its cores: the figure is CPU-bound).
#
#   bench/replicas.sh                      # 32 clients, 20 s per run
#   CLIENTS=64 DURATION=30s PGURL=postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable bench/replicas.sh
set -euo pipefail
cd "$(dirname "$0")/.."
CLIENTS=${CLIENTS:-32}
DURATION=${DURATION:-20s}
PGURL=${PGURL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}
dir=$(mktemp -d /tmp/atelier-replicas.XXXXXX)
db="atelier_replicas_$$"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  psql "$PGURL" -qc "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT
go build -o "$dir/atelier" ./cmd/atelier
go build -o "$dir/authload" ./bench/authload
psql "$PGURL" -qc "CREATE DATABASE $db" >/dev/null
dburl=$(printf '%s' "$PGURL" | sed -E "s#/[^/?]*(\?|$)#/$db\1#")

# replica N PORT starts replica N on PORT, all sharing the database and the
# key-encryption key file; replica 1 bootstraps the account.
replica() {
  "$dir/atelier" serve --data-dir "$dir/data$1" --listen "127.0.0.1:$2" --database "$dburl" \
    --secrets-key-file "$dir/secrets.key" --log-level warn &
  pids+=($!)
  for _ in $(seq 1 150); do curl -fs "http://127.0.0.1:$2/health" >/dev/null 2>&1 && return; sleep 0.2; done
  echo "replica $1 did not come up" >&2
  exit 1
}
cores=$(nproc)
replica 1 18181
one=$("$dir/authload" -bootstrap "$dir/data1/bootstrap.json" -endpoint http://127.0.0.1:18181 -c "$CLIENTS" -d "$DURATION")
replica 2 18182
replica 3 18183
three=$("$dir/authload" -bootstrap "$dir/data1/bootstrap.json" -endpoint http://127.0.0.1:18181,http://127.0.0.1:18182,http://127.0.0.1:18183 -c "$CLIENTS" -d "$DURATION")
rate() { sed -E 's/.* ([0-9]+) req\/s.*/\1/' <<<"$1"; }
echo "1 replica:  $one"
echo "3 replicas: $three"
echo "per core ($cores cores): 1 replica $(( $(rate "$one") / cores )) req/s, 3 replicas $(( $(rate "$three") / cores )) req/s"
