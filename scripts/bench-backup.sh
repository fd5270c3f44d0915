#!/usr/bin/env bash
# Benchmark: `migrated db backup` / `db restore` against pg_dump and pg_restore, on the same
# ~300 MB database in the same run. Prints time (median of RUNS) and size for each.
#
#   BENCH_DATABASE_URL  an admin URL of the server to use (a database that exists)
#                       [default: postgres://postgres@127.0.0.1:5432/postgres]
#   RUNS                runs per tool [default: 3]
#   SCALE               pgbench scale [default: 20]
#   JOBS                backup.jobs and pg_dump/pg_restore -j [default: 2]
#   LEVEL               backup.level of the main migrated row [default: migrated's own default];
#                       a second row always shows level 2 (about 2.5x less compression work)
#   MIGRATED            the binary [default: target/release/migrated, built if missing]
#
# The database `bench_backup` and the restore target `bench_backup_r` are dropped at the end.
set -euo pipefail

ADMIN_URL=${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
RUNS=${RUNS:-3}
SCALE=${SCALE:-20}
JOBS=${JOBS:-2}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
MIGRATED=${MIGRATED:-$ROOT/target/release/migrated}
DB=bench_backup
WORK=$(mktemp -d /tmp/bench-backup.XXXXXX)

url_for() { # the admin URL with another database name
    python3 -c 'import sys, urllib.parse as u; p = u.urlparse(sys.argv[1]); print(u.urlunparse(p._replace(path="/" + sys.argv[2])))' "$ADMIN_URL" "$1"
}
DB_URL=$(url_for "$DB")

cleanup() {
    for d in "$DB" "${DB}_r"; do
        psql -X -q -d "$ADMIN_URL" -c "DROP DATABASE IF EXISTS $d WITH (FORCE)" >/dev/null 2>&1 || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

if [[ ! -x $MIGRATED ]]; then
    (cd "$ROOT" && cargo build --release --quiet)
fi

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN {printf "%.3f", b - a}'; } # seconds since $1
median() { sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
size_of() { du -sb "$1" | cut -f1; }
mb() { awk -v b="$1" 'BEGIN {printf "%.1f", b / 1048576}'; }

fresh_db() {
    psql -X -q -d "$ADMIN_URL" -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" >/dev/null
    psql -X -q -d "$ADMIN_URL" -c "CREATE DATABASE $1 TEMPLATE template0" >/dev/null
}

echo "building the database (pgbench -i -s $SCALE plus a text/jsonb table)..." >&2
fresh_db "$DB"
pgbench -i -s "$SCALE" -q "$DB_URL" >/dev/null 2>&1
psql -X -q -v ON_ERROR_STOP=1 -d "$DB_URL" <<'SQL'
CREATE TABLE docs (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    title text NOT NULL,
    body text,
    meta jsonb,
    created timestamptz NOT NULL DEFAULT now()
);
INSERT INTO docs (title, body, meta)
SELECT 'document ' || i,
       repeat(md5(i::text) || ' lorem ipsum dolor sit amet ', 1 + i % 8),
       jsonb_build_object('id', i, 'tags', jsonb_build_array('a' || i % 10, 'b' || i % 7),
                          'score', (i % 1000) / 10.0, 'ok', i % 2 = 0)
  FROM generate_series(1, 300000) AS i;
CREATE INDEX docs_created_idx ON docs (created);
VACUUM ANALYZE;
SQL
DB_SIZE=$(psql -X -At -d "$DB_URL" -c "SELECT pg_database_size(current_database())")
echo "database: $(mb "$DB_SIZE") MB, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2

# Before each timed run: the writes of earlier runs flushed (a checkpoint, then the page
# cache), so that no run pays for the one before it.
settle() {
    psql -X -q -d "$ADMIN_URL" -c "CHECKPOINT" >/dev/null 2>&1 || true
    sync
}

declare -A TIMES SIZES

# Runs `$2...` RUNS times, recording the median time under name $1 and the size of $OUT.
measure() {
    local name=$1; shift
    local times=()
    for _ in $(seq "$RUNS"); do
        rm -rf "$OUT"
        settle
        local t0; t0=$(now)
        "$@"
        times+=("$(since "$t0")")
    done
    TIMES[$name]=$(printf '%s\n' "${times[@]}" | median)
    SIZES[$name]=$(size_of "$OUT")
    echo "  $name: ${times[*]} s" >&2
}

migrated_backup() { # $1: the level, or empty for migrated's default
    env ${1:+MIGRATED_BACKUP_LEVEL=$1} MIGRATED_BACKUP_JOBS=$JOBS DATABASE_URL=$DB_URL \
        "$MIGRATED" db backup -o "$OUT" >/dev/null
}
pg_dump_gzip() { pg_dump -d "$DB_URL" | gzip -6 >"$OUT"; }
pg_dump_fc() { pg_dump -Fc -d "$DB_URL" -f "$OUT"; }
pg_dump_fd() { pg_dump -Fd -j "$JOBS" -d "$DB_URL" -f "$OUT"; }
# The floor of any backup: every table's `COPY ... TO STDOUT` into /dev/null, JOBS at once,
# largest first (no compression, no file). On a 2-core machine the server's COPY and the
# client's compression share the cores, so no backup gets close to it.
copy_floor() {
    psql -X -At -d "$DB_URL" -c "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r'
        AND n.nspname NOT IN ('pg_catalog', 'information_schema') ORDER BY pg_table_size(c.oid) DESC" |
        xargs -P "$JOBS" -I{} psql -X -q -d "$DB_URL" -o /dev/null -c "COPY {} TO STDOUT"
    : >"$OUT"
}

echo "backups ($RUNS runs each):" >&2
OUT=$WORK/migrated.sql.gz measure "migrated db backup" migrated_backup "${LEVEL:-}"
OUT=$WORK/migrated2.sql.gz measure "migrated db backup (level 2)" migrated_backup 2
OUT=$WORK/plain.sql.gz measure "pg_dump | gzip -6" pg_dump_gzip
OUT=$WORK/custom.dump measure "pg_dump -Fc" pg_dump_fc
OUT=$WORK/dir.dump measure "pg_dump -Fd -j$JOBS" pg_dump_fd
OUT=$WORK/floor measure "COPY floor (-j$JOBS, /dev/null)" copy_floor

migrated_restore() { DATABASE_URL=$1 "$MIGRATED" db restore "$WORK/migrated.sql.gz" >/dev/null; }
psql_restore() { gunzip -c "$WORK/plain.sql.gz" | psql -X -q -v ON_ERROR_STOP=1 -d "$1" >/dev/null; }
pg_restore_j() { pg_restore -j "$JOBS" -d "$1" "$WORK/custom.dump"; }
RESTORES=("migrated db restore" "gunzip -c | psql" "pg_restore -j$JOBS (from -Fc)")
declare -A RESTORE_FN=(["${RESTORES[0]}"]=migrated_restore ["${RESTORES[1]}"]=psql_restore
    ["${RESTORES[2]}"]=pg_restore_j)

# Restores into a fresh database each run (creation not timed), the tools taking turns in
# every round so that a slow spell of the machine hits them alike. Each target is dropped
# right after its run: left in place, its autovacuum ran during the next tool's restore.
echo "restores ($RUNS rounds):" >&2
declare -A RESTORE_TIMES
for round in $(seq "$RUNS"); do
    for name in "${RESTORES[@]}"; do
        fresh_db "${DB}_r"
        settle
        t0=$(now)
        "${RESTORE_FN[$name]}" "$(url_for "${DB}_r")"
        RESTORE_TIMES[$name]+="$(since "$t0") "
        psql -X -q -d "$ADMIN_URL" -c "DROP DATABASE ${DB}_r WITH (FORCE)" >/dev/null
    done
done
for name in "${RESTORES[@]}"; do
    TIMES[$name]=$(printf '%s\n' ${RESTORE_TIMES[$name]} | median)
    echo "  $name: ${RESTORE_TIMES[$name]}s" >&2
done

printf '\n%-32s %10s %12s %12s\n' "backup" "time (s)" "size (MB)" "MB/s (db)"
for name in "migrated db backup" "migrated db backup (level 2)" "pg_dump | gzip -6" "pg_dump -Fc" \
    "pg_dump -Fd -j$JOBS" "COPY floor (-j$JOBS, /dev/null)"; do
    printf '%-32s %10s %12s %12s\n' "$name" "${TIMES[$name]}" "$(mb "${SIZES[$name]}")" \
        "$(awk -v s="$DB_SIZE" -v t="${TIMES[$name]}" 'BEGIN {printf "%.0f", s / 1048576 / t}')"
done
printf '\n%-32s %10s\n' "restore" "time (s)"
for name in "migrated db restore" "gunzip -c | psql" "pg_restore -j$JOBS (from -Fc)"; do
    printf '%-32s %10s\n' "$name" "${TIMES[$name]}"
done
awk -v m="${TIMES["migrated db backup"]}" -v c="${TIMES["pg_dump -Fc"]}" \
    -v ms="${SIZES["migrated db backup"]}" -v cs="${SIZES["pg_dump -Fc"]}" \
    -v m6="${TIMES["migrated db backup (level 2)"]}" -v ms6="${SIZES["migrated db backup (level 2)"]}" \
    -v f="${TIMES["COPY floor (-j$JOBS, /dev/null)"]}" -v r="${TIMES["migrated db restore"]}" -v pr="${TIMES["pg_restore -j$JOBS (from -Fc)"]}" \
    'BEGIN {
        printf "\nbackup throughput vs pg_dump -Fc: %.2fx (target >= 2x); size: %.2fx (target <= 1.1x)\n", c / m, ms / cs
        printf "  at level 2: %.2fx; size: %.2fx\n", c / m6, ms6 / cs
        printf "  the COPY floor alone is %.2fx pg_dump -Fc; migrated takes %.2fx the floor\n", c / f, m / f
        printf "restore time vs pg_restore -j: %.2fx (target <= 1x)\n", r / pr
    }'
echo "load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"

