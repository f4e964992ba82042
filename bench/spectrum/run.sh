#!/usr/bin/env bash
# Spectrum benchmarks on SQLite and on Postgres + Redis:
#  1. the weekly pipeline (aggregation + insight jobs for every user, one
#     week, real fan-out, queue and worker, `local` provider) over USERS users
#     with 8 weeks of stored analysis;
#  2. GET /v1/spectrum/weekly (8 weeks, full plan) at RATE req/s, open loop.
# Prints one JSON line per step.
#
#   bash bench/spectrum/run.sh                    # 10,000 users, 1,000 req/s for 20 s
#   USERS=2000 BACKENDS=sqlite bash bench/spectrum/run.sh
#
# Loads go to 127.0.0.1 only and stop by themselves.
set -euo pipefail
cd "$(dirname "$0")/../.."
USERS=${USERS:-10000}
RATE=${RATE:-1000}
SECONDS_EACH=${SECONDS_EACH:-20}
QUEUES=${QUEUES:-spectrum}
BACKENDS=${BACKENDS:-"sqlite postgres"}
PORT=${PORT:-18282}
PG=${PG:-postgres://postgres@127.0.0.1:5432}
REDIS=${REDIS:-redis://127.0.0.1:6379}

[ -n "${SKIP_BUILD:-}" ] || cargo build --release -q -p kalei-server --bin kalei --example loadgen --example spectrum_bench
TARGET=${CARGO_TARGET_DIR:-target}
BIN=$TARGET/release/kalei
LOADGEN=$TARGET/release/examples/loadgen
SEEDER=$TARGET/release/examples/spectrum_bench
WORK=$(mktemp -d)
SERVER=""
DB=""
cleanup() {
  [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null || true
  wait 2>/dev/null || true
  [ -n "$DB" ] && psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

load() { uptime | sed 's/.*load average: //'; }

run_backend() { # $1 = label; KALEI_* exported by the caller
  echo "{\"backend\":\"$1\",\"load_before\":\"$(load)\"}"
  "$SEEDER" seed --users "$USERS"
  "$SEEDER" pipeline --queues "$QUEUES"
  echo "{\"backend\":\"$1\",\"load_after_pipeline\":\"$(load)\"}"
  local reader token
  reader=$("$SEEDER" reader)
  echo "$reader" | python3 -c 'import json,sys; d=json.load(sys.stdin); d.pop("token"); print(json.dumps(d))'
  token=$(echo "$reader" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
  "$BIN" serve --role api >"$WORK/server.log" 2>&1 &
  SERVER=$!
  for _ in $(seq 1 100); do curl -sf "127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
  curl -sf "127.0.0.1:$PORT/healthz" >/dev/null || { echo "server did not start:"; cat "$WORK/server.log"; exit 1; }
  local url="http://127.0.0.1:$PORT/v1/spectrum/weekly"
  "$LOADGEN" --method GET --url "$url" --rate 50 --seconds 2 --token "$token" >/dev/null
  result=$("$LOADGEN" --method GET --url "$url" --rate "$RATE" --seconds "$SECONDS_EACH" --token "$token")
  echo "{\"backend\":\"$1\",\"endpoint\":\"GET /v1/spectrum/weekly\",\"load\":\"$(load)\",\"result\":$result}"
  kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=""
}

echo "# $(date -u +%FT%TZ) $(git rev-parse --short HEAD) $(nproc) cores; users=$USERS rate=$RATE queues=$QUEUES"
export KALEI_LISTEN=127.0.0.1:$PORT KALEI_LOG__LEVEL=warn KALEI_DATABASE_MAX_CONNECTIONS=32
for backend in $BACKENDS; do
  export KALEI_DATA_DIR="$WORK/data-$backend"
  case $backend in
    sqlite)
      unset KALEI_DATABASE_URL KALEI_REDIS_URL
      run_backend sqlite ;;
    postgres)
      DB="kalei_spectrum_bench_$RANDOM"
      psql "$PG/postgres" -qc "CREATE DATABASE $DB" >/dev/null
      export KALEI_DATABASE_URL="$PG/$DB" KALEI_REDIS_URL="$REDIS" KALEI_REDIS_KEY_PREFIX="bench-$RANDOM"
      run_backend postgres+redis
      psql "$PG/postgres" -qc "DROP DATABASE $DB WITH (FORCE)" >/dev/null; DB="" ;;
  esac
done
