#!/usr/bin/env bash
# Runs the whole test suite against a real PostgreSQL: TEST_DATABASE_URL when set, otherwise a
# private throwaway cluster that the test harness starts from the system's binaries (as the
# `postgres` user when run as root) and that this script stops at the end.
# Extra arguments go to `cargo test` (e.g. `scripts/test.sh --test runner`).
set -euo pipefail
cd "$(dirname "$0")/.."

shared="target/tmp/pg-shared"
stop_shared() {
  if [ -z "${TEST_DATABASE_URL:-}" ] && [ -f "$shared/data/postmaster.pid" ]; then
    pg_ctl="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)/pg_ctl"
    [ -x "$pg_ctl" ] || pg_ctl=pg_ctl
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$pg_ctl" -D "$shared/data" -m fast -w stop >/dev/null 2>&1 || true
    else "$pg_ctl" -D "$shared/data" -m fast -w stop >/dev/null 2>&1 || true; fi
  fi
}
trap stop_shared EXIT

cargo test --locked "$@"
