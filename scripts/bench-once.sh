#!/usr/bin/env bash
# The cost of a container start when nothing is pending: `migrated --once -- true`, side by side
# in the same run with `sqlx migrate run`, `alembic upgrade head` (both with nothing pending) and
# a bare `psql -c 'select 1'`, each with sslmode=disable and over TLS (sslmode=prefer, the
# default of libpq and sqlx, and sslmode=require), medians of hyperfine runs.
#
#   scripts/bench-once.sh                 # server BENCH_PG (default postgres://postgres@127.0.0.1:5432, ssl=on)
#   RUNS=50 scripts/bench-once.sh
#
# Creates its own database migrated_bench_<pid> on that server and drops it at the end.
# Installs what it lacks: sqlx-cli (cargo install, postgres + rustls only), alembic, sqlalchemy
# and psycopg2-binary (a venv in target/bench-venv), hyperfine (apt).
# Targets: migrated <= 10 ms over plain TCP, <= 15 ms over TLS, >= 20x faster than Alembic.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

server="${BENCH_PG:-postgres://postgres@127.0.0.1:5432}"
runs="${RUNS:-30}"
db="migrated_bench_$$"

# --- tools -------------------------------------------------------------------------------
# BENCH_MIGRATED: an already built release binary (skips the build). Not MIGRATED_*: every
# MIGRATED_<KEY> variable is a config override, and an unknown key is an error.
if [ -n "${BENCH_MIGRATED:-}" ]; then
  migrated="$BENCH_MIGRATED"
else
  cargo build --quiet --release --bin migrated
  migrated="$root/target/release/migrated"
fi

sqlx="${SQLX:-$HOME/.cargo/bin/sqlx}"
if [ ! -x "$sqlx" ]; then
  echo "installing sqlx-cli (postgres, rustls)..." >&2
  cargo install --quiet --locked sqlx-cli --no-default-features --features postgres,rustls
fi

venv="$root/target/bench-venv"
if [ ! -x "$venv/bin/alembic" ]; then
  echo "installing alembic, sqlalchemy, psycopg2-binary into $venv..." >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet alembic sqlalchemy psycopg2-binary
fi

command -v hyperfine >/dev/null || { apt-get update -qq && apt-get install -y -qq hyperfine >/dev/null; }

# Debian's /usr/bin/psql is a Perl wrapper (pg_wrapper) that adds ~40 ms: use the real binary.
psql="$(ls -d /usr/lib/postgresql/*/bin/psql 2>/dev/null | sort -V | tail -n1)"
[ -x "$psql" ] || psql="$(command -v psql)"

# --- the database and three projects with one applied migration each -----------------------
"$psql" "$server/postgres?sslmode=disable" -XAtqc "CREATE DATABASE $db" >/dev/null
work="$(mktemp -d)"
cleanup() {
  "$psql" "$server/postgres?sslmode=disable" -XAtqc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
url() { echo "$server/$db?sslmode=$1"; }

# migrated and sqlx-cli share the same folder and state table (the formats are compatible).
mkdir -p "$work/migrations"
printf 'CREATE TABLE bench_items (id bigint PRIMARY KEY, name text NOT NULL);\n' \
  > "$work/migrations/20260101000000_bench_items.up.sql"
printf 'DROP TABLE bench_items;\n' > "$work/migrations/20260101000000_bench_items.down.sql"
(cd "$work" && "$migrated" --database-url "$(url disable)" repair >/dev/null 2>&1) || true
(cd "$work" && "$migrated" --database-url "$(url disable)" --once) \
  || { echo "migrated --once failed on the bench project" >&2; exit 1; }
"$sqlx" migrate run --database-url "$(url disable)" --source "$work/migrations" >/dev/null

mkdir -p "$work/alembic/versions"
cat > "$work/alembic.ini" <<EOF
[alembic]
script_location = $work/alembic
EOF
cat > "$work/alembic/env.py" <<'EOF'
from alembic import context
from sqlalchemy import create_engine, pool

url = context.get_x_argument(as_dictionary=True)["url"]
engine = create_engine(url, poolclass=pool.NullPool)
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=None)
    with context.begin_transaction():
        context.run_migrations()
EOF
cat > "$work/alembic/script.py.mako" <<'EOF'
EOF
cat > "$work/alembic/versions/0001_bench.py" <<'EOF'
"""bench table"""
from alembic import op
import sqlalchemy as sa

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table("bench_alembic", sa.Column("id", sa.BigInteger, primary_key=True))


def downgrade():
    op.drop_table("bench_alembic")
EOF
alembic_url() { echo "postgresql+psycopg2://${server#postgres://}/$db?sslmode=$1"; }
"$venv/bin/alembic" -c "$work/alembic.ini" -x "url=$(alembic_url disable)" upgrade head 2>/dev/null

# --- measure ----------------------------------------------------------------------------
echo "server $server (ssl=$("$psql" "$(url disable)" -XAtqc 'show ssl')), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), $runs runs each" >&2
results="$work/results.tsv"
: > "$results"
bench() { # name sslmode command...
  local name="$1" mode="$2"; shift 2
  local json="$work/h.json"
  (cd "$work" && hyperfine -N --warmup 3 --runs "$runs" --export-json "$json" "$*" >/dev/null 2>&1) \
    || { echo "$name ($mode) failed: $*" >&2; (cd "$work" && "$@") || true; exit 1; }
  python3 - "$json" "$name" "$mode" >> "$results" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))["results"][0]
print(f"{sys.argv[2]}\t{sys.argv[3]}\t{r['median']*1000:.1f}\t{r['mean']*1000:.1f}\t{r['min']*1000:.1f}\t{r['max']*1000:.1f}")
EOF
}
for mode in disable prefer require; do
  bench "migrated --once -- true" "$mode" "$migrated" --database-url "$(url "$mode")" --once -- true
  bench "sqlx migrate run" "$mode" "$sqlx" migrate run --database-url "$(url "$mode")" --source "$work/migrations"
  bench "alembic upgrade head" "$mode" "$venv/bin/alembic" -c "$work/alembic.ini" -x "url=$(alembic_url "$mode")" upgrade head
  bench "psql -c 'select 1'" "$mode" "$psql" "$(url "$mode")" -XAtqc "select 1"
done

# --- report -----------------------------------------------------------------------------
python3 - "$results" <<'EOF'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
print(f"{'command':<26} {'sslmode':<8} {'median ms':>9} {'mean':>7} {'min':>7} {'max':>7}")
for name, mode, med, mean, lo, hi in rows:
    print(f"{name:<26} {mode:<8} {med:>9} {mean:>7} {lo:>7} {hi:>7}")
med = {(n, m): float(x) for n, m, x, *_ in rows}
print()
for mode in ("disable", "prefer", "require"):
    ours = med[("migrated --once -- true", mode)]
    alembic = med[("alembic upgrade head", mode)]
    sqlx = med[("sqlx migrate run", mode)]
    target = 10 if mode == "disable" else 15
    verdict = "ok" if ours <= target and alembic / ours >= 20 else "MISSED"
    print(f"sslmode={mode:<8} migrated {ours:.1f} ms (target <= {target}), "
          f"{alembic / ours:.0f}x faster than alembic, {sqlx / ours:.1f}x faster than sqlx-cli: {verdict}")
EOF
