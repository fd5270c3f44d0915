#!/usr/bin/env bash
# Benchmarks `migrated up` against `sqlx migrate run` (sqlx-cli) and `psql -1 -f` applying the
# same files, side by side in one run, and prints a table of medians:
#   - no-op: every migration already applied (one connection, reading the state table);
#   - 50 pending: 50 trivial migrations (CREATE TABLE) on a new, empty database each run,
#     the tools taking turns.
# psql has no state table: its no-op row is an empty file (the cost of a connection), and its
# 50-pending row is the 50 files concatenated and run in one transaction.
#
# Usage: scripts/bench-up.sh [RUNS]      (default 30 runs per command, after 3 warmups)
# Env:   BENCH_SERVER_URL  admin URL of the server (default: postgres://postgres@127.0.0.1:5432/postgres)
#        MIGRATED_BIN      the binary to measure (default: target/release/migrated; build it with
#                          `cargo build --release`)
# Needs: psql, sqlx (cargo install sqlx-cli --no-default-features --features postgres,rustls),
#        hyperfine when available (otherwise a loop timed with date +%s%N).
# The script creates a database of its own (migrated_bench_<pid>) and drops it at the end.
# Every tool connects with sslmode=disable.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-30}"
bin="$(realpath "${MIGRATED_BIN:-target/release/migrated}")"
unset MIGRATED_BIN # every MIGRATED_* variable is a config override for the binary
server="${BENCH_SERVER_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
server="${server%%\?*}?sslmode=disable"
for tool in psql sqlx python3; do
  command -v "$tool" >/dev/null || { echo "bench-up: $tool is required" >&2; exit 2; }
done
[ -x "$bin" ] || { echo "bench-up: $bin not found (cargo build --release)" >&2; exit 2; }

db="migrated_bench_$$"
url_of() { python3 -c 'import sys,urllib.parse as u; p=u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path="/"+sys.argv[2])))' "$server" "$1"; }
url="$(url_of "$db")"
work="$(mktemp -d)"
cleanup() {
  for d in "$db" "${db}_m" "${db}_s" "${db}_p"; do
    psql -X -q "$server" -c "DROP DATABASE IF EXISTS \"$d\" WITH (FORCE)" >/dev/null 2>&1 || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
psql -X -q "$server" -c "CREATE DATABASE \"$db\"" >/dev/null

# 50 trivial migrations, sqlx-cli's naming, and the same statements concatenated for psql.
mkdir -p "$work/migrations"
for i in $(seq 1 50); do
  v=$((20260101000000 + i))
  printf 'CREATE TABLE bench_%d (id bigint PRIMARY KEY, name text NOT NULL);\n' "$i" >"$work/migrations/${v}_bench_${i}.up.sql"
  printf 'DROP TABLE bench_%d;\n' "$i" >"$work/migrations/${v}_bench_${i}.down.sql"
done
cat "$work"/migrations/*.up.sql >"$work/all.sql"
: >"$work/empty.sql"

cd "$work"
export DATABASE_URL="$url"
m_cmd="$bin up"
s_cmd="sqlx migrate run --source migrations --database-url $url"
p_all="psql -X -q -v ON_ERROR_STOP=1 -1 -f all.sql $url"
p_empty="psql -X -q -v ON_ERROR_STOP=1 -1 -f empty.sql $url"

declare -A median
# median_ms TIMES_US...: their median, in ms with one decimal.
median_ms() { printf '%s\n' "$@" | sort -n | python3 -c 'import sys; v=[int(x) for x in sys.stdin]; print("%.1f" % (v[len(v)//2]/1000))'; }

# measure NAME COMMAND: median wall time in ms of COMMAND.
measure() {
  local name="$1" cmd="$2"
  if command -v hyperfine >/dev/null; then
    hyperfine -N --style none --warmup 3 --runs "$runs" --export-json "$work/$name.json" "$cmd" >/dev/null
    median[$name]="$(python3 -c 'import json,sys; print("%.1f" % (json.load(open(sys.argv[1]))["results"][0]["median"]*1000))' "$work/$name.json")"
  else
    local times=() i t0 t1
    for i in $(seq 1 $((runs + 3))); do
      t0=$(date +%s%N); $cmd >/dev/null 2>&1; t1=$(date +%s%N)
      [ "$i" -gt 3 ] && times+=($(( (t1 - t0) / 1000 )))
    done
    median[$name]="$(median_ms "${times[@]}")"
  fi
}

# Sanity: migrated applies all 50 to the new database and records what it should.
$m_cmd >/dev/null 2>&1
[ "$(psql -X -At "$url" -c 'SELECT count(*) FROM _sqlx_migrations')" = 50 ] || { echo "bench-up: migrated did not apply 50" >&2; exit 1; }

# no-op: state at head for migrated and sqlx (they share the table, so each reads the same 50 rows).
measure m_noop "$m_cmd"
measure s_noop "$s_cmd"
measure p_noop "$p_empty"
# 50 pending: each run in a new, empty database (created and dropped untimed: dropping the
# schema between runs bloats the catalogs run after run, which made medians drift by 2x),
# the three tools taking turns, so that whatever else the machine does falls on all three.
# apply_all TOOL URL: the 50 migrations applied to URL by m(igrated), s(qlx-cli) or p(sql).
apply_all() {
  case $1 in
    m) DATABASE_URL="$2" $bin up 2>/dev/null ;;
    s) sqlx migrate run --source migrations --database-url "$2" ;;
    p) psql -X -q -v ON_ERROR_STOP=1 -1 -f all.sql "$2" ;;
  esac >/dev/null
}
measure_pending() {
  local i tool t0 t1 fresh
  declare -A times
  for i in $(seq 1 $((runs + 1))); do
    for tool in m s p; do
      fresh="${db}_$tool"
      psql -X -q "$server" -c "DROP DATABASE IF EXISTS \"$fresh\"" -c "CREATE DATABASE \"$fresh\" TEMPLATE template0" >/dev/null
      local furl; furl="$(url_of "$fresh")"
      # One session first, untimed: the first backend of a new database builds its catalog
      # caches from scratch (tens of ms) for whichever tool would come first.
      psql -X -q "$furl" -c "SELECT 1" >/dev/null
      t0=$(date +%s%N); apply_all "$tool" "$furl"; t1=$(date +%s%N)
      [ "$(psql -X -At "$furl" -c "SELECT count(*) FROM pg_tables WHERE tablename LIKE 'bench\_%'")" = 50 ] \
        || { echo "bench-up: $tool did not create the 50 tables" >&2; exit 1; }
      psql -X -q "$server" -c "DROP DATABASE \"$fresh\"" >/dev/null
      [ "$i" -gt 1 ] && times[$tool]+="$(( (t1 - t0) / 1000 )) " # the first round warms up
    done
  done
  for tool in m s p; do
    # shellcheck disable=SC2086 # one word per time
    median[${tool}_50]="$(median_ms ${times[$tool]})"
  done
}
measure_pending

ratio() { python3 -c 'import sys; print("%.2fx" % (float(sys.argv[1])/float(sys.argv[2])))' "$1" "$2"; }
echo
echo "bench-up: medians of $runs runs (ms), $(nproc) CPUs, load $(cut -d' ' -f1 /proc/loadavg), server $(psql -X -At "$url" -c 'SHOW server_version' | cut -d' ' -f1), sslmode=disable"
printf '%-22s %12s %12s %12s %16s %16s\n' scenario migrated sqlx-cli "psql -1 -f" "migrated/sqlx" "migrated/psql"
printf '%-22s %12s %12s %12s %16s %16s\n' "no-op up" "${median[m_noop]}" "${median[s_noop]}" "${median[p_noop]}" \
  "$(ratio "${median[m_noop]}" "${median[s_noop]}")" "$(ratio "${median[m_noop]}" "${median[p_noop]}")"
printf '%-22s %12s %12s %12s %16s %16s\n' "50 pending" "${median[m_50]}" "${median[s_50]}" "${median[p_50]}" \
  "$(ratio "${median[m_50]}" "${median[s_50]}")" "$(ratio "${median[m_50]}" "${median[p_50]}")"
echo "(psql no-op = an empty file: the cost of one connection; targets: migrated no-op <= sqlx-cli no-op, migrated 50 <= 1.5x psql)"
