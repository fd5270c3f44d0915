#!/usr/bin/env bash
# Benchmarks `migrated generate` after a one-column change with warm shadows, at 10, 100 and
# 1000 tables, side by side with reference tools on the same schema, measured in the same run.
#
# Synthetic schema (scripts/bench_schema.py, which writes it both as models/schema.sql and as
# SQLAlchemy models): N tables of 8 columns (bigint primary key, a foreign key to a parent
# table forming a tree, a unique text code, jsonb with a GIN index, timestamptz and numeric
# defaults), plus an index on every foreign key. The one-column change adds a text column to
# the last table (a leaf: nothing references it).
#
# What is timed, per size (wall clock of the whole command, ms; one first run, then RUNS runs
# whose median is reported; the tools take turns run by run, so a machine whose speed drifts
# during the bench slows them alike):
#   generate  `migrated generate`: each run adds one more column to the models and generates:
#             models loaded, the desired shadow updated incrementally, the previous run's
#             migration appended to the head shadow, both introspected, diffed, verified, and
#             written with the sum. gen_init is the first `generate`, of the whole schema
#             (empty shadows); gen_1st the first one-column change after it.
#   pg_dump   `pg_dump --schema-only` of a database holding the schema after the change.
#   alembic   `alembic revision --autogenerate` with the models after the change and a
#             database before it (its own copy: autogenerate creates alembic_version in it), so autogenerate detects exactly one added column (checked).
#             The revision file is deleted between runs, untimed. The first run also compiles
#             models.py to bytecode.
#   migra     `migra --unsafe` from a database before the change to one after it (one
#             statement, checked).
# The reference tools are optional: one that is missing is reported on stderr and shows n/a.
# Exit status 1 when a command failed (its output's tail on stderr, n/a in the table) or a
# reference tool did not see exactly the one added column.
#
# Usage: scripts/bench-generate.sh [RUNS] [SIZES...]   (default: 5 runs; sizes 10 100 1000)
# Env:   BENCH_SERVER_URL  admin URL of the server (default: postgres://postgres@127.0.0.1:5432/postgres)
#        MIGRATED_BIN      the binary (default: target/release/migrated; cargo build --release)
#        ALEMBIC_VENV      venv with alembic, sqlalchemy 2, psycopg2 (default: target/py-venv,
#                          as .ci/run creates it)
#        MIGRA_VENV        venv with migra (default: target/migra-venv). migra needs SQLAlchemy
#                          1.4, and schemainspect imports pkg_resources without requiring it:
#                          python3 -m venv target/migra-venv && target/migra-venv/bin/pip install
#                            migra==3.0.1663481299 'sqlalchemy<2' psycopg2-binary 'setuptools<67'
# The script creates databases of its own (migrated_bgen_<pid>_<n>, its shadows, and _old/_new
# for the reference tools) and drops them at exit, with its temporary folder.
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
schema_py="$PWD/scripts/bench_schema.py"
alembic_venv="$(realpath -m "${ALEMBIC_VENV:-target/py-venv}")"
migra_venv="$(realpath -m "${MIGRA_VENV:-target/migra-venv}")"
for tool in psql python3; do
  command -v "$tool" >/dev/null || { echo "bench-generate: $tool is required" >&2; exit 2; }
done
[ -x "$bin" ] || { echo "bench-generate: $bin not found (cargo build --release)" >&2; exit 2; }

# Which reference tools can run; each missing one is said once and shows n/a.
have_pg_dump=1 have_alembic=1 have_migra=1
command -v pg_dump >/dev/null || {
  have_pg_dump=""
  echo "bench-generate: pg_dump not found; its column shows n/a" >&2
}
"$alembic_venv/bin/python" -c 'import alembic, sqlalchemy, psycopg2' 2>/dev/null || {
  have_alembic=""
  echo "bench-generate: no alembic in $alembic_venv (see .ci/run); its column shows n/a" >&2
}
if ! { [ -x "$migra_venv/bin/migra" ] && "$migra_venv/bin/python" -c 'import migra' 2>/dev/null; }; then
  have_migra=""
  echo "bench-generate: no migra in $migra_venv (see the header of $0); its column shows n/a" >&2
fi

work="$(mktemp -d)"
dbs=()
cleanup() {
  for db in "${dbs[@]}"; do
    psql -X -q "$server" -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM # so that the EXIT trap runs

# url_for DB [SCHEME]: the server's URL for database DB (SQLAlchemy wants postgresql[+driver]://).
url_for() {
  python3 -c 'import sys,urllib.parse as u; p=u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(scheme=sys.argv[3] or p.scheme, path="/"+sys.argv[2])))' \
    "$server" "$1" "${2:-}"
}

# create_db NAME [SQL_FILE]: a database, registered for cleanup first, loaded from SQL_FILE.
create_db() {
  dbs+=("$1")
  psql -X -q "$server" -c "CREATE DATABASE \"$1\"" >/dev/null
  [ -z "${2:-}" ] || psql -X -q -v ON_ERROR_STOP=1 -f "$2" "$(url_for "$1")" >/dev/null
}

now_ms() { date +%s%3N; }

median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2)}'; }

# measure TOOL...: runs the tools interleaved, run by run: for K = 0..RUNS, each tool's
# prepare_TOOL K (untimed, if defined), run_TOOL K (timed, its output in $work/out) and
# check_TOOL (untimed, if defined), in an order rotated by K so that no tool always follows
# the same one. A drifting machine (CPU steal, frequency) then slows every tool alike. Sets
# first[TOOL] (K = 0) and med[TOOL] (median of the rest), or n/a when the tool failed, whose
# output goes to stderr; a failed tool is not run again.
declare -A first med times
measure() {
  local tools=("$@") k i tool start ms
  for tool in "${tools[@]}"; do first[$tool]=n/a med[$tool]=n/a times[$tool]=""; done
  declare -A broken=()
  for k in $(seq 0 "$runs"); do
    for i in "${!tools[@]}"; do
      tool="${tools[$(( (i + k) % ${#tools[@]} ))]}"
      [ -z "${broken[$tool]:-}" ] || continue
      if declare -F "prepare_$tool" >/dev/null; then "prepare_$tool" "$k"; fi
      start=$(now_ms)
      if ! "run_$tool" "$k" >"$work/out" 2>&1; then
        echo "bench-generate: $tool failed at $n tables (run $k):" >&2
        tail -n 20 "$work/out" | sed 's/^/  /' >&2
        failed=1 broken[$tool]=1
        continue
      fi
      ms=$(( $(now_ms) - start ))
      if [ "$k" -eq 0 ]; then first[$tool]=$ms; else times[$tool]+=" $ms"; fi
      if declare -F "check_$tool" >/dev/null && ! "check_$tool"; then broken[$tool]=1; fi
    done
  done
  for tool in "${tools[@]}"; do
    if [ -n "${broken[$tool]:-}" ]; then first[$tool]=n/a; continue; fi
    # shellcheck disable=SC2086
    med[$tool]="$(median ${times[$tool]})"
    echo "  $tool at $n tables: first ${first[$tool]}, then${times[$tool]} ms" >&2
  done
}

# migrated generate: run K has K+1 extra columns; the models are written before the clock.
prepare_migrated() { python3 "$schema_py" sql "$n" "$(($1 + 1))" >"$project/models/schema.sql"; }
run_migrated() { (cd "$project" && "$bin" generate -m "change $(($1 + 1))"); }

run_pg_dump() { pg_dump --schema-only "$new_url" >/dev/null; }

prepare_alembic() { rm -f "$work/alembic/versions/"*.py; }
run_alembic() { "$alembic_venv/bin/alembic" -c "$work/alembic/alembic.ini" revision --autogenerate -m change; }
check_alembic() { # upgrade() holds exactly one operation, the added column
  local ops
  ops="$(sed -n '/^def upgrade/,/^def downgrade/p' "$work/alembic/versions/"*.py | grep -E '^\s+op\.' || true)"
  if [ "$(grep -c . <<<"$ops")" -ne 1 ] || ! grep -q "op.add_column('t_$n'" <<<"$ops"; then
    printf 'bench-generate: alembic at %s tables did not detect exactly one added column:\n%s\n' "$n" "$ops" >&2
    failed=1 # not the comparison the table claims
    return 1
  fi
}

run_migra() { "$migra_venv/bin/migra" --unsafe "$old_sa_url" "$new_sa_url" || [ $? -eq 2 ]; } # 2: differences found
check_migra() { # one statement, the added column
  if [ "$(grep -c . "$work/out")" -ne 1 ] || ! grep -qi 'add column "extra_0"' "$work/out"; then
    echo "bench-generate: migra at $n tables did not give exactly one added column:" >&2
    cat "$work/out" >&2
    failed=1
    return 1
  fi
}

failed=""
row='%-7s %9s %9s %9s %9s %9s | %9s %9s %9s %9s\n'
echo "ms; left: median of $runs runs; right: first run (generate: init = whole schema, empty shadows)"
# shellcheck disable=SC2059
printf "$row" tables generate pg_dump_s alembic migra gen_init gen_1st dump_1st alem_1st migra_1st
for n in "${sizes[@]}"; do
  db="migrated_bgen_$$_$n"
  dbs+=("$db" "${db}_shadow" "${db}_shadow_head") # the shadows generate creates
  create_db "$db"
  project="$work/p$n"
  mkdir -p "$project/models"
  export DATABASE_URL
  DATABASE_URL="$(url_for "$db")"

  # The reference databases: _old before the change, _new after it, and _alem, a copy of _old
  # for Alembic alone: `alembic revision --autogenerate` creates (and commits) the
  # alembic_version table in the database it compares, which migra would then report.
  if [ -n "$have_pg_dump$have_alembic$have_migra" ]; then
    python3 "$schema_py" sql "$n" 0 >"$work/old.sql"
    python3 "$schema_py" sql "$n" 1 >"$work/new.sql"
    create_db "${db}_old" "$work/old.sql"
    create_db "${db}_new" "$work/new.sql"
    new_url="$(url_for "${db}_new")"
    old_sa_url="$(url_for "${db}_old" postgresql)"
    new_sa_url="$(url_for "${db}_new" postgresql)"
  fi
  if [ -n "$have_alembic" ]; then
    create_db "${db}_alem" "$work/old.sql"
    rm -rf "$work/alembic"
    # SQLAlchemy 2.1 takes postgresql:// to mean psycopg 3: name the driver the venv has.
    python3 "$schema_py" alembic "$work/alembic" "$n" 1 "$(url_for "${db}_alem" postgresql+psycopg2)"
  fi

  python3 "$schema_py" sql "$n" 0 >"$project/models/schema.sql"
  init=n/a
  tools=()
  start=$(now_ms)
  if (cd "$project" && "$bin" generate -m init) >"$work/out" 2>&1; then
    init=$(( $(now_ms) - start ))
    tools+=(migrated)
  else
    echo "bench-generate: migrated generate (init) failed at $n tables:" >&2
    tail -n 20 "$work/out" | sed 's/^/  /' >&2
    failed=1
  fi
  [ -z "$have_pg_dump" ] || tools+=(pg_dump)
  [ -z "$have_migra" ] || tools+=(migra)
  [ -z "$have_alembic" ] || tools+=(alembic)
  if [ ${#tools[@]} -gt 0 ]; then measure "${tools[@]}"; fi
  for tool in migrated pg_dump migra alembic; do
    [[ " ${tools[*]} " == *" $tool "* ]] || first[$tool]=n/a med[$tool]=n/a
  done

  # shellcheck disable=SC2059
  printf "$row" "$n" "${med[migrated]}" "${med[pg_dump]}" "${med[alembic]}" "${med[migra]}" "$init" \
    "${first[migrated]}" "${first[pg_dump]}" "${first[alembic]}" "${first[migra]}"
done
[ -z "$failed" ] || exit 1
