#!/usr/bin/env bash
# Starts the watcher on this repository's example project (models/ -> migrations/ -> database).
# Uses DATABASE_URL when set; otherwise starts a private PostgreSQL from the system's binaries
# in .dev/postgres (as the `postgres` user when run as root), creates the database
# `migrated_dev`, and stops the server when the watcher exits.
# Extra arguments go to migrated (e.g. `scripts/dev.sh --log-format json`).
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --quiet --release --bin migrated
bin="$PWD/target/release/migrated"

as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

if [ -z "${DATABASE_URL:-}" ]; then
  pgbin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)"
  [ -x "$pgbin/initdb" ] || { echo "no DATABASE_URL and no PostgreSQL server binaries: apt-get install postgresql" >&2; exit 2; }
  dir="$PWD/.dev/postgres"
  port="${MIGRATED_DEV_PORT:-54329}"
  mkdir -p "$dir"
  [ "$(id -u)" = 0 ] && chown postgres: "$dir"
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    as_pg "$pgbin/initdb" -A trust -U postgres -E UTF8 --no-sync -D "$dir/data" >/dev/null
  fi
  as_pg "$pgbin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1" start >/dev/null
  trap 'as_pg "$pgbin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null' EXIT
  psql -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres \
    -c "SELECT 1 FROM pg_database WHERE datname = 'migrated_dev'" -At | grep -q 1 \
    || createdb -h 127.0.0.1 -p "$port" -U postgres migrated_dev
  export DATABASE_URL="postgres://postgres@127.0.0.1:$port/migrated_dev?sslmode=disable"
  echo "private PostgreSQL on 127.0.0.1:$port, database migrated_dev" >&2
fi

unset MIGRATED_DEV_PORT # every MIGRATED_* variable is a config key for the binary
"$bin" "$@" watch
