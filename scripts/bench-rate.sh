#!/usr/bin/env bash
# Rate benchmark (make bench-rate): a batch of 2,000 companies, with 1, 2 and
# 4 worker processes in turn (BENCH_WORKERS), the simulator at 100 calls/s per action. Reports the achieved
# SyncProxyOrganization rate against the limit, calls refused for the rate
# limit, wall time against N/limit, and the cost of authorization polling.
# Uses a scratch Postgres database and Redis db 5 (flushed).
set -euo pipefail
cd "$(dirname "$0")/.."
N="${BENCH_N:-2000}"
LIMIT="${BENCH_LIMIT:-100}"
go build -o bin/onboard ./cmd/onboard
for w in ${BENCH_WORKERS:-1 2 4}; do
  echo "== $w worker process(es)"
  go run ./internal/benchrate/run -bin bin/onboard -n "$N" -limit "$LIMIT" -workers "$w" "$@"
done
