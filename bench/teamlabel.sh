#!/usr/bin/env bash
# teamlabel: issue 11's team labeling benchmarks over HTTP on a real server.
#
#   bench/teamlabel.sh                    # 100,000 samples, 99 labelers, 8 clients
#   N=20000 CLIENTS=4 DURATION=5s bench/teamlabel.sh
#
# It builds the binary, writes a manifest of N image-classification samples
# (bench/datagen), serves a fresh data dir on a loopback port, imports the
# manifest, then bench/teamload creates a team of 99 labelers and a team
# administrator, times creating a team labeling task over every sample,
# starts it and logs the first labeler in, and times batch label updates of
# 50 samples and the acceptance report; bench/authload finally drives the
# labeler's sample pages (limit 50, a random page of its first 20) with its
# token at 1 client and at CLIENTS clients. Targets: create ≤ 5 s, page p99
# ≤ 30 ms, update of 50 ≤ 100 ms, report ≤ 50 ms.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-100000}
CLIENTS=${CLIENTS:-8}
DURATION=${DURATION:-10s}
DIR=${DIR:-$(mktemp -d /tmp/atelier-team.XXXXXX)}
PORT=${PORT:-18481}
. bench/lib.sh
go build -o "$DIR/teamload" ./bench/teamload
go run ./bench/datagen -out "$DIR/data" -bucket bench-data -n "$N" -labels 20 -type image_classification
serve_bench "$DIR" "$PORT"
id=$(import_manifest team)
"$DIR/teamload" -bootstrap "$ATELIER_BOOTSTRAP" -dataset "$id" -token-out "$DIR/labeler.token" -task-out "$DIR/task.id"
task=$(cat "$DIR/task.id")
path="/v2/{project_id}/datasets/$id/workforce-tasks/$task/data-annotations/samples?limit=50&offset={rand:20}"
"$DIR/authload" -bootstrap "$ATELIER_BOOTSTRAP" -token-file "$DIR/labeler.token" -path "$path" -c 1 -d "$DURATION"
"$DIR/authload" -bootstrap "$ATELIER_BOOTSTRAP" -token-file "$DIR/labeler.token" -path "$path" -c "$CLIENTS" -d "$DURATION"
