#!/bin/sh
# Container entrypoint for an application image: migrate, then become the application.
#   ENTRYPOINT ["docker-entrypoint.sh"]
#   CMD ["uvicorn", "app.main:app", "--host", "0.0.0.0", "--port", "8000"]
# `migrated --once` waits for the database, takes the advisory lock, validates checksums and
# migrations/migrated.sum, backs up when backup.before_apply is set, applies what is pending,
# then execs the command with the same PID (signals reach the application directly). Any
# failure exits non-zero and the application is never started.
set -eu
exec migrated --once -- "$@"
