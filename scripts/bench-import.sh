#!/usr/bin/env bash
# Benchmark of 'onboard import' (make bench-import): generates a file of
# ROWS valid rows without images, times a bare excelize streaming read of it,
# then runs 'onboard import --dry-run' and 'onboard import' into a scratch
# database and reports wall time and peak RSS. Aim: import <= 1.25x the bare
# read, peak RSS < 100 MiB.
#
#   ROWS=100000 RUNS=3 ./scripts/bench-import.sh   (the median of RUNS rounds)
#
# Needs Postgres and Redis (see scripts/services.sh); BENCH_ADMIN_DATABASE_URL
# and BENCH_REDIS_URL point it elsewhere (Redis db 9 by default, flushed).
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS="${ROWS:-100000}"
mkdir -p bin out/bench
go build -o bin/onboard ./cmd/onboard
go build -o bin/benchimport ./internal/benchimport
./bin/benchimport -onboard bin/onboard -rows "$ROWS" -runs "${RUNS:-3}" -dir out/bench
