#!/usr/bin/env bash
# Introspection benchmark: synthetic schemas of 10, 100 and 1000 tables (each 8 columns:
# identity PK, FK to the previous table, text, varchar, smallint default, numeric, jsonb
# default, timestamptz default; plus a unique index and a GIN index on the jsonb column).
# For each size: `migrated`'s introspect() (median of 5 after one warm-up, one connection)
# side by side with `pg_dump --schema-only` of the same database (median of 5), same run.
#
# usage: scripts/bench-introspect.sh [ADMIN_URL]
#   ADMIN_URL: a database on a server where the user may create databases
#   (default $BENCH_DATABASE_URL, else postgres://postgres@127.0.0.1:5432/postgres).
#   SIZES="10 100" to choose the sizes.
set -euo pipefail

admin=${1:-${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}}
sizes=${SIZES:-10 100 1000}
base=${admin%/*}
runs=5

cd "$(dirname "$0")/.."
cargo build --quiet --release --example bench_introspect
bench=target/release/examples/bench_introspect

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

create_schema() { # url n
    psql "$1" -X -q -o /dev/null -v ON_ERROR_STOP=1 -v n="$2" <<'SQL'
SELECT set_config('bench.n', :'n', false);
DO $$
DECLARE i int;
BEGIN
  FOR i IN 1 .. current_setting('bench.n')::int LOOP
    EXECUTE format(
      'CREATE TABLE t%s (
         id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
         prev_id bigint %s,
         name text NOT NULL,
         email varchar(255),
         rank smallint DEFAULT 0,
         amount numeric(12,2),
         data jsonb DEFAULT ''{}''::jsonb,
         created_at timestamptz DEFAULT now())',
      i, CASE WHEN i > 1 THEN format('REFERENCES t%s (id) ON DELETE CASCADE', i - 1) ELSE '' END);
    EXECUTE format('CREATE UNIQUE INDEX t%s_email_key ON t%s (email)', i, i);
    EXECUTE format('CREATE INDEX t%s_data_gin ON t%s USING gin (data)', i, i);
  END LOOP;
END $$;
SQL
}

printf '%-8s %16s %16s %8s\n' tables introspect_ms pg_dump_s_ms ratio
for n in $sizes; do
    db="migrated_bench_introspect_$n"
    url="$base/$db"
    psql "$admin" -X -q -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
    create_schema "$url" "$n"
    introspect_ms=$("$bench" "$url" "$runs" | sed -n 's/^median_ms=//p')
    pg_dump -s "$url" > /dev/null # warm-up, as for introspect
    dump_ms=$(for _ in $(seq "$runs"); do
        start=$(date +%s%N)
        pg_dump -s "$url" > /dev/null
        echo $(( ($(date +%s%N) - start) / 1000000 ))
    done | median)
    ratio=$(awk -v a="$introspect_ms" -v b="$dump_ms" 'BEGIN { printf "%.2f", a / b }')
    printf '%-8s %16s %16s %8s\n' "$n" "$introspect_ms" "$dump_ms" "$ratio"
    psql "$admin" -X -q -c "DROP DATABASE $db"
done
