#!/usr/bin/env bash
# Product endpoints at a fixed request rate (open loop), on SQLite and on
# Postgres + Redis: POST /v1/turns and POST /v1/mirror/messages with the local
# provider. Prints one JSON line per (backend, endpoint, rate).
#
#   bash bench/product/run.sh            # rates 200 and 500, 20 s each
#   RATES="500" SECONDS_EACH=10 bash bench/product/run.sh
#
# Loads go to 127.0.0.1 only and stop by themselves.
set -euo pipefail
cd "$(dirname "$0")/../.."
RATES=${RATES:-"200 500"}
SECONDS_EACH=${SECONDS_EACH:-20}
PORT=${PORT:-18181}
PG=${PG:-postgres://postgres@127.0.0.1:5432}
REDIS=${REDIS:-redis://127.0.0.1:6379}

cargo build --release -q -p kalei-server --bin kalei --example loadgen
TARGET=${CARGO_TARGET_DIR:-target}
BIN=$TARGET/release/kalei
LOADGEN=$TARGET/release/examples/loadgen
WORK=$(mktemp -d)
SERVER=""
cleanup() { [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

start_server() { # $1 = database url or "", $2 = redis url or ""
  local env=(KALEI_LISTEN=127.0.0.1:$PORT KALEI_DATA_DIR="$WORK/data-$RANDOM" KALEI_LOG__LEVEL=warn
    KALEI_PLANS__FREE__TURNS_PER_DAY=1000000000 KALEI_PLANS__FREE__MIRROR_SESSIONS_PER_DAY=1000000000
    KALEI_DATABASE_MAX_CONNECTIONS=32)
  [ -n "$1" ] && env+=(KALEI_DATABASE_URL="$1")
  [ -n "$2" ] && env+=(KALEI_REDIS_URL="$2" KALEI_REDIS_KEY_PREFIX="bench-$RANDOM")
  env "${env[@]}" "$BIN" serve --role api >"$WORK/server.log" 2>&1 &
  SERVER=$!
  for _ in $(seq 1 100); do curl -sf "127.0.0.1:$PORT/healthz" >/dev/null && return; sleep 0.1; done
  echo "server did not start:"; cat "$WORK/server.log"; exit 1
}

stop_server() { kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=""; }

run_backend() { # $1 = label
  local auth access session
  auth=$(curl -sf "127.0.0.1:$PORT/v1/auth/register" -H 'content-type: application/json' \
    -d "{\"email\":\"bench-$RANDOM@example.com\",\"password\":\"benchmark password\"}")
  access=$(echo "$auth" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  session=$(curl -sf -X POST "127.0.0.1:$PORT/v1/mirror/sessions" -H "authorization: Bearer $access" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  # Varied realistic entries (written for the benchmark; ~150-400 chars).
  python3 - "$WORK/thoughts.jsonl" "$WORK/messages.jsonl" "$session" <<'PY'
import json, sys
thoughts = [
  "I always mess everything up at work and everyone can see it.",
  "If I don't get this job I will never find anything and my life is ruined.",
  "She didn't answer my text, she must think I'm annoying.",
  "I should be further along by now, I'm such a failure.",
  "I feel stupid, so I probably am stupid.",
  "Nothing good ever happens to me, it's always the same.",
  "It's my fault the project was late, I let the whole team down.",
  "One bad review and now everyone will know I'm a fraud.",
]
entries = [
  "Today was long. I had a meeting where my manager asked about the deadline and I froze. "
  "I keep thinking everyone noticed and that I'm going to be let go. I always do this when I'm under pressure.",
  "Went for a walk after dinner which helped a bit. Still, I can't stop replaying the conversation with my sister. "
  "She probably thinks I'm selfish. I should have called her back sooner, I never get this right.",
  "Slept badly again. Work was fine I guess, but I feel like nothing I do matters and it will stay like this forever.",
  "Had coffee with an old friend and actually laughed. Then I came home and felt empty. Why can't I just be normal?",
]
with open(sys.argv[1], "w") as f:
    for t in thoughts: f.write(json.dumps({"thought": t, "belief_before": 70}) + "\n")
with open(sys.argv[2], "w") as f:
    for e in entries: f.write(json.dumps({"session_id": sys.argv[3], "content": e}) + "\n")
PY
  for rate in $RATES; do
    for endpoint in turns mirror/messages; do
      local bodies=$WORK/thoughts.jsonl
      [ "$endpoint" = "mirror/messages" ] && bodies=$WORK/messages.jsonl
      # A short warm-up, then the measured run.
      "$LOADGEN" --url "http://127.0.0.1:$PORT/v1/$endpoint" --rate 50 --seconds 2 --token "$access" --body-file "$bodies" >/dev/null
      result=$("$LOADGEN" --url "http://127.0.0.1:$PORT/v1/$endpoint" --rate "$rate" --seconds "$SECONDS_EACH" \
        --token "$access" --body-file "$bodies")
      echo "{\"backend\":\"$1\",\"endpoint\":\"POST /v1/$endpoint\",\"result\":$result}"
    done
  done
}

echo "# $(date -u +%FT%TZ) $(git rev-parse --short HEAD) $(nproc) cores; uptime:$(uptime | sed 's/.*load/ load/')"
start_server "" ""
run_backend sqlite
stop_server

DB="kalei_bench_$RANDOM"
psql "$PG/postgres" -qc "CREATE DATABASE $DB" >/dev/null
start_server "$PG/$DB" "$REDIS"
run_backend postgres+redis
stop_server
psql "$PG/postgres" -qc "DROP DATABASE $DB WITH (FORCE)" >/dev/null
