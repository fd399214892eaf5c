# Sourced by the load scripts of bench/: builds the binaries they drive and
# serves a data dir on a loopback port until the script exits.
#
#   serve_bench DIR PORT    # builds atelier and authload into DIR, serves DIR/data
#   import_manifest NAME    # makes dataset NAME from the datagen manifest, imports it,
#                           # and prints its ID

# serve_bench builds the binaries, starts the server on DIR/data and waits
# for its bootstrap file; the server stops (and DIR goes, unless KEEP is
# set) when the script exits.
serve_bench() {
  local dir=$1 port=$2
  mkdir -p "$dir"
  BIN=$dir/atelier
  go build -o "$BIN" ./cmd/atelier
  go build -o "$dir/authload" ./bench/authload
  "$BIN" serve --data-dir "$dir/data" --listen "127.0.0.1:$port" --log-level warn &
  server=$!
  trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "'"$dir"'"' EXIT
  export ATELIER_BOOTSTRAP=$dir/data/bootstrap.json
  for _ in $(seq 1 150); do [ -f "$ATELIER_BOOTSTRAP" ] && break; sleep 0.2; done
  sleep 1
}

# import_manifest creates an image classification dataset over datagen's
# manifest (its folder holds no sample files: the dataset starts empty),
# imports the manifest and prints the dataset's ID.
import_manifest() {
  local out id
  out=$("$BIN" data create --name "$1" --type image_classification --input obs://bench-data/manifest/ --work obs://bench-data/work/)
  id=$(printf '%s\n' "$out" | sed -n 's/^Created dataset .* (\(.*\))$/\1/p')
  "$BIN" data import "$id" --manifest --path obs://bench-data/manifest/dataset.manifest >&2
  printf '%s\n' "$id"
}
