#!/usr/bin/env bash
# Starts the local Postgres and Redis when they are installed but not running,
# then waits until both answer. Does nothing to servers that already run.
set -euo pipefail

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
redis_up() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }

if ! pg_up; then
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    echo "starting Postgres..." >&2
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  else
    echo "Postgres is not running on 127.0.0.1:5432 and is not installed here; set DATABASE_URL and TEST_DATABASE_URL to a server you have" >&2
  fi
fi
if ! redis_up; then
  if command -v redis-server >/dev/null 2>&1; then
    echo "starting Redis..." >&2
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no >/dev/null || true
  else
    echo "Redis is not running on 127.0.0.1:6379 and is not installed here; set REDIS_URL and TEST_REDIS_URL to a server you have" >&2
  fi
fi

for _ in $(seq 1 60); do
  if pg_up && redis_up; then exit 0; fi
  sleep 0.5
done
pg_up || { echo "Postgres did not come up on 127.0.0.1:5432" >&2; exit 1; }
redis_up || { echo "Redis did not come up on 127.0.0.1:6379" >&2; exit 1; }
