#!/usr/bin/env bash
# A/B comparison of two `migrated` binaries on `generate` after a one-column change with
# warm shadows, the figure scripts/bench-generate.sh reports; for deciding whether a change
# to the pipeline pays, on a machine whose speed drifts within minutes.
#
# Each binary gets its own database and project (the synthetic schema of
# scripts/bench_schema.py, N tables), one `generate` of the whole schema and WARM one-column
# changes untimed; then ROUNDS rounds, each running every binary once in an order that
# alternates round by round, each run adding one more column. Per run: wall clock of the
# command, its CPU (user + system, from the kernel's accounting of waited-for children) and
# the server's CPU (the postmaster's reaped children: backends end with the command, so the
# delta is what the command's sessions used; anything else on the server counts too, so keep
# it quiet). Prints each binary's medians.
#
# Usage: scripts/ab-generate.sh BIN_A BIN_B [N] [ROUNDS] [WARM]   (defaults: 100 15 3)
# Env:   BENCH_SERVER_URL  admin URL of a server on this machine (default:
#                          postgres://postgres@127.0.0.1:5432/postgres). The postmaster's
#                          pid is read from postmaster.pid in its data directory: run as a
#                          user who can read it (root, or postgres).
# The databases (migrated_ab_<pid>_<a|b> and their shadows) and the temporary folder are
# dropped at exit.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 2 ] || { sed -n '2,/^set /p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2; exit 2; }
bins=("$(realpath "$1")" "$(realpath "$2")")
n="${3:-100}" rounds="${4:-15}" warm="${5:-3}"
unset MIGRATED_BIN
server="${BENCH_SERVER_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
server="${server%%\?*}"
schema_py="$PWD/scripts/bench_schema.py"
for bin in "${bins[@]}"; do [ -x "$bin" ] || { echo "ab-generate: $bin is not executable" >&2; exit 2; }; done

work="$(mktemp -d)"
dbs=()
cleanup() {
  for db in "${dbs[@]}"; do
    psql -X -q "$server" -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

datadir="$(psql -X -A -t "$server" -c 'SHOW data_directory')"
postmaster="$(head -n 1 "$datadir/postmaster.pid")"
tck="$(getconf CLK_TCK)"
# server_cpu: CPU (ms) of the postmaster's reaped children so far (cutime + cstime).
server_cpu() { awk -v t="$tck" '{ print int(($16 + $17) * 1000 / t) }' "/proc/$postmaster/stat"; }
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2)}'; }

extra=() # per binary: columns added so far
for i in 0 1; do
  db="migrated_ab_$$_$i"
  dbs+=("$db" "${db}_shadow" "${db}_shadow_head")
  psql -X -q "$server" -c "CREATE DATABASE \"$db\"" >/dev/null
  mkdir -p "$work/p$i/models"
  python3 "$schema_py" sql "$n" 0 >"$work/p$i/models/schema.sql"
  url="${server%/*}/$db"
  (cd "$work/p$i" && DATABASE_URL="$url" "${bins[$i]}" generate -m init >/dev/null)
  for k in $(seq 1 "$warm"); do
    python3 "$schema_py" sql "$n" "$k" >"$work/p$i/models/schema.sql"
    (cd "$work/p$i" && DATABASE_URL="$url" "${bins[$i]}" generate -m "warm $k" >/dev/null)
  done
  extra[i]="$warm"
done

# run I: one timed generate of binary I; appends "wall client server" to $work/r$I.
run() {
  local i="$1" url="${server%/*}/migrated_ab_$$_$1" s0 t0 t1 s1
  extra[i]=$((extra[i] + 1))
  python3 "$schema_py" sql "$n" "${extra[i]}" >"$work/p$i/models/schema.sql"
  sleep 0.2 # let the previous command's backends exit and be reaped
  s0="$(server_cpu)"
  t0="$(date +%s%N)"
  (cd "$work/p$i" && DATABASE_URL="$url" /usr/bin/time -f '%U %S' -o "$work/time" \
    "${bins[$i]}" generate -m "run ${extra[i]}" >/dev/null)
  t1="$(date +%s%N)"
  sleep 0.2
  s1="$(server_cpu)"
  awk -v w="$(((t1 - t0) / 1000000))" -v s="$((s1 - s0))" \
    '{ printf "%d %d %d\n", w, ($1 + $2) * 1000, s }' "$work/time" >>"$work/r$i"
}

for r in $(seq 1 "$rounds"); do
  if [ $((r % 2)) -eq 1 ]; then run 0; run 1; else run 1; run 0; fi
done

printf '%-40s %8s %10s %10s   (medians of %s runs, ms, %s tables)\n' binary wall client_cpu server_cpu "$rounds" "$n"
for i in 0 1; do
  mapfile -t w < <(cut -d' ' -f1 "$work/r$i")
  mapfile -t c < <(cut -d' ' -f2 "$work/r$i")
  mapfile -t s < <(cut -d' ' -f3 "$work/r$i")
  printf '%-40s %8s %10s %10s\n' "${bins[$i]}" "$(median "${w[@]}")" "$(median "${c[@]}")" "$(median "${s[@]}")"
  echo "  wall: ${w[*]}" >&2
done
