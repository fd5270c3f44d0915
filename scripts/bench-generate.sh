#!/usr/bin/env bash
# Benchmarks `migrated generate` after a one-column change with warm shadows, at 10, 100 and
# 1000 tables, and prints the median of RUNS timed runs per size (after one warm-up run).
#
# Synthetic models: N tables of 8 columns (bigint primary key, a foreign key to a parent table
# forming a tree, a unique text code, jsonb with a GIN index, timestamptz and numeric
# defaults), plus an index on every foreign key. Each run adds one column to the last table
# (a leaf: nothing references it) and generates: models loaded, the desired shadow updated
# incrementally, the previous run's migration appended to the head shadow, both introspected,
# diffed, verified, and written with the sum.
#
# Usage: scripts/bench-generate.sh [RUNS] [SIZES...]   (default: 5 runs; sizes 10 100 1000)
# Env:   BENCH_SERVER_URL  admin URL of the server (default: postgres://postgres@127.0.0.1:5432/postgres)
#        MIGRATED_BIN      the binary (default: target/release/migrated; cargo build --release)
# The script creates databases of its own (migrated_bgen_<pid>_<n>, plus their shadows) and
# drops them at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-5}"
shift || true
sizes=("${@:-10 100 1000}")
# shellcheck disable=SC2206
sizes=(${sizes[*]})
bin="$(realpath "${MIGRATED_BIN:-target/release/migrated}")"
unset MIGRATED_BIN # every MIGRATED_* variable is a config override for the binary
server="${BENCH_SERVER_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
server="${server%%\?*}"
for tool in psql python3; do
  command -v "$tool" >/dev/null || { echo "bench-generate: $tool is required" >&2; exit 2; }
done
[ -x "$bin" ] || { echo "bench-generate: $bin not found (cargo build --release)" >&2; exit 2; }

work="$(mktemp -d)"
dbs=()
cleanup() {
  for db in "${dbs[@]}"; do
    for name in "$db" "${db}_shadow" "${db}_shadow_head"; do
      psql -X -q "$server" -c "DROP DATABASE IF EXISTS \"$name\" WITH (FORCE)" >/dev/null 2>&1 || true
    done
  done
  rm -rf "$work"
}
trap cleanup EXIT

url_for() {
  python3 -c 'import sys,urllib.parse as u; p=u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path="/"+sys.argv[2])))' "$server" "$1"
}

# models/schema.sql with $1 tables; $2 extra columns on the last table.
write_models() {
  python3 - "$1" "$2" >"$3" <<'PY'
import sys
n, extra = int(sys.argv[1]), int(sys.argv[2])
for i in range(1, n + 1):
    parent = max(1, (i + 8) // 10) if i > 1 else None
    ref = f"REFERENCES t_{parent} (id)" if parent and parent != i else ""
    cols = [
        "id bigint PRIMARY KEY",
        f"parent_id bigint {ref}".rstrip(),
        "code text NOT NULL UNIQUE",
        "name text",
        "tags jsonb NOT NULL DEFAULT '[]'",
        "created_at timestamptz NOT NULL DEFAULT now()",
        "amount numeric(12,2) DEFAULT 0",
        "active boolean NOT NULL DEFAULT true",
    ]
    if i == n:
        cols += [f"extra_{k} text" for k in range(extra)]
    print(f"CREATE TABLE t_{i} (\n  " + ",\n  ".join(cols) + "\n);")
    print(f"CREATE INDEX t_{i}_parent ON t_{i} (parent_id);")
    print(f"CREATE INDEX t_{i}_tags ON t_{i} USING gin (tags);")
PY
}

now_ms() { date +%s%3N; }

median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2)}'; }

printf '%-8s %10s %10s %s\n' tables median_ms cold_ms "runs_ms"
for n in "${sizes[@]}"; do
  db="migrated_bgen_$$_$n"
  dbs+=("$db")
  psql -X -q "$server" -c "CREATE DATABASE \"$db\"" >/dev/null
  project="$work/p$n"
  mkdir -p "$project/models"
  export DATABASE_URL
  DATABASE_URL="$(url_for "$db")"
  write_models "$n" 0 "$project/models/schema.sql"
  start=$(now_ms)
  (cd "$project" && "$bin" generate -m init >/dev/null)
  cold=$(( $(now_ms) - start ))
  times=()
  for k in $(seq 1 $((runs + 1))); do
    write_models "$n" "$k" "$project/models/schema.sql"
    start=$(now_ms)
    (cd "$project" && "$bin" generate -m "change $k" >/dev/null)
    elapsed=$(( $(now_ms) - start ))
    [ "$k" -gt 1 ] && times+=("$elapsed")
  done
  printf '%-8s %10s %10s %s\n' "$n" "$(median "${times[@]}")" "$cold" "${times[*]}"
done
