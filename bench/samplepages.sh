#!/usr/bin/env bash
# samplepages: label-filtered sample pages of a million-sample dataset under
# concurrent clients, over HTTP, the way a labeling team clicks "next".
#
#   bench/samplepages.sh                 # 1,000,000 samples, 32 clients, 15 s
#   N=200000 CLIENTS=8 DURATION=10s bench/samplepages.sh
#   DIR=/tmp/atelier-pages KEEP=1 bench/samplepages.sh   # keep (and reuse) the data dir
#   PAGES=500 bench/samplepages.sh       # random pages up to 500 deep
#
# It builds the binary, writes a manifest of N image-classification samples
# with 20 labels (bench/datagen), serves a fresh data dir on a loopback port,
# imports the manifest once, then drives GET .../data-annotations/samples
# ?label_name=label-0<random>&offset=<random page>&limit=100 with bench/authload
# at 1 client and at CLIENTS clients, and prints req/s, p50, p90, p99, p99.9.
# The goal is p99 <= 3 x p50 at 32 clients.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-1000000}
CLIENTS=${CLIENTS:-32}
DURATION=${DURATION:-15s}
DIR=${DIR:-$(mktemp -d /tmp/atelier-pages.XXXXXX)}
PORT=${PORT:-18480}
. bench/lib.sh
mkdir -p "$DIR"
if [ ! -f "$DIR/dataset-id" ]; then
  go run ./bench/datagen -out "$DIR/data" -bucket bench-data -n "$N" -labels 20 -type image_classification
fi
serve_bench "$DIR" "$PORT"
if [ ! -f "$DIR/dataset-id" ]; then
  start=$(date +%s)
  import_manifest pages > "$DIR/dataset-id"
  echo "imported $N samples in $(( $(date +%s) - start )) s"
fi
id=$(cat "$DIR/dataset-id")
# A random label of ten and a random page among the first PAGES (the pages a
# team works through; deep offsets cost O(offset), see docs/datasets.md).
pages=${PAGES:-10}
path="/v2/{project_id}/datasets/$id/data-annotations/samples?label_name=label-0{rand:10}&offset={rand:$pages}&limit=100"
"$DIR/authload" -bootstrap "$ATELIER_BOOTSTRAP" -path "$path" -c 1 -d "$DURATION"
"$DIR/authload" -bootstrap "$ATELIER_BOOTSTRAP" -path "$path" -c "$CLIENTS" -d "$DURATION"
