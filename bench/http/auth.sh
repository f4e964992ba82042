#!/usr/bin/env bash
# HTTP API auth benchmark: POST /v1/auth/login and GET /v1/me throughput
# (req/s) and p50/p99 latency, with wrk on loopback, against the release
# `kalei` binary on SQLite and on PostgreSQL + Redis counters.
#
#   bash bench/http/auth.sh                          # both backends, 15 s per run, 16 and 64 connections
#   BACKENDS=sqlite DURATION=10s CONNS="16" bash bench/http/auth.sh
#
# Environment (all optional):
#   BACKENDS      "sqlite postgres"                       which backends to run
#   DURATION      15s                                     wrk duration per run (bounded: at most 60s)
#   WARMUP        3s                                      unmeasured wrk run before each endpoint
#   LOGIN_CONNS   "1 16 64"                               connection counts for the login runs (1 = unloaded latency)
#   ME_CONNS      "16 64"                                 connection counts for the /v1/me runs
#   THREADS       2                                       wrk threads
#   PG_ADMIN_URL  postgres://postgres@127.0.0.1:5432/postgres   a fresh kalei_bench_<random> is created and dropped
#   REDIS_URL     redis://127.0.0.1:6379                  keys go under a unique prefix and are deleted afterwards
#   PORT          free port picked at random              the server listens on 127.0.0.1:$PORT
#   OUT           bench/http/results/auth-<time>.md       summary table is also written there
#   LOG_DIR       /tmp/kalei-bench-http-<time>            server logs and raw wrk output are kept there
#
# Everything stays on 127.0.0.1. The login rate limits are raised so the
# benchmark measures the server, not the limiter; access logs are off
# (KALEI_LOG__LEVEL=warn). One user is registered per backend; every login
# request signs that user in (Argon2id verify + session, refresh token and
# audit rows), every /v1/me request presents the same access token.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

BACKENDS="${BACKENDS:-sqlite postgres}"
DURATION="${DURATION:-15s}"
WARMUP="${WARMUP:-3s}"
LOGIN_CONNS="${LOGIN_CONNS:-${CONNS:-1 16 64}}"
ME_CONNS="${ME_CONNS:-${CONNS:-16 64}}"
THREADS="${THREADS:-2}"
PG_ADMIN_URL="${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
OUT="${OUT:-$ROOT/bench/http/results/auth-$STAMP.md}"

secs() { # "15s" | "1m" | "15" -> seconds
  local d="$1"
  case "$d" in
    *m) echo $(( ${d%m} * 60 )) ;;
    *s) echo "${d%s}" ;;
    *) echo "$d" ;;
  esac
}
if (( $(secs "$DURATION") > 60 || $(secs "$WARMUP") > 60 )); then
  echo "DURATION and WARMUP must be at most 60s" >&2; exit 2
fi

log() { printf '\n==> %s\n' "$*" >&2; }

# ---------------------------------------------------------------- tools
if ! command -v wrk >/dev/null; then
  log "installing wrk"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi
for tool in curl jq; do
  if ! command -v "$tool" >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$tool" >/dev/null
  fi
done

log "building kalei (release)"
cargo build --release -p kalei-server
COMMIT="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
DIRTY="$(git status --porcelain -- crates/kalei-server crates/kalei-store Cargo.toml Cargo.lock 2>/dev/null | awk '{print $2}' | paste -sd, -)"
[[ -z "$DIRTY" ]] || DIRTY=" + uncommitted changes in $DIRTY"

WORK="$(mktemp -d /tmp/kalei-bench-http.XXXXXX)"
# A private copy: other builds in the shared target dir cannot swap the binary
# between the SQLite and the Postgres run.
LOG_DIR="${LOG_DIR:-/tmp/kalei-bench-http-$STAMP}"
mkdir -p "$LOG_DIR"
BIN="$WORK/kalei"
cp "$ROOT/target/release/kalei" "$BIN"
SERVER_PID=""
PG_DB=""
REDIS_PREFIX=""

pg_admin() { psql "$PG_ADMIN_URL" -v ON_ERROR_STOP=1 -qAt -c "$1"; }
pg_url_for() { # same server as PG_ADMIN_URL, another database
  local base="${PG_ADMIN_URL%%\?*}"
  echo "${base%/*}/$1"
}

stop_server() {
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=""
}

drop_backing_stores() {
  if [[ -n "$PG_DB" ]]; then
    pg_admin "DROP DATABASE IF EXISTS \"$PG_DB\" WITH (FORCE)" || true
    PG_DB=""
  fi
  if [[ -n "$REDIS_PREFIX" ]]; then
    redis-cli -u "$REDIS_URL" --scan --pattern "$REDIS_PREFIX:*" \
      | xargs -r -n 500 redis-cli -u "$REDIS_URL" DEL >/dev/null || true
    REDIS_PREFIX=""
  fi
}

cleanup() {
  stop_server
  cp "$WORK"/*.log "$WORK"/*.txt "$LOG_DIR"/ 2>/dev/null || true
  drop_backing_stores
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# wrk result -> "rps|p50|p99|requests|non2xx|errors|statuses"
parse_wrk() {
  local f="$1"
  local rps p50 p99 reqs non2xx errors statuses
  rps="$(awk '/^Requests\/sec:/ {print $2}' "$f")"
  p50="$(awk '$1=="50%" {print $2}' "$f")"
  p99="$(awk '$1=="99%" {print $2}' "$f")"
  reqs="$(awk '/requests in/ {print $1}' "$f")"
  non2xx="$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$f")"
  errors="$(awk '/Socket errors:/ {sub(/^ *Socket errors: */, ""); print}' "$f")"
  statuses="$(awk '/^Statuses:/ {sub(/^Statuses: */, ""); print}' "$f")"
  echo "${rps:-?}|${p50:-?}|${p99:-?}|${reqs:-?}|${non2xx:-0}|${errors:-none}|${statuses:-–}"
}

cat >"$WORK/login.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["content-type"] = "application/json"
wrk.body = os.getenv("KALEI_BENCH_LOGIN_BODY")

-- count statuses per thread, print them at the end (login is slow enough
-- that the per-response callback costs nothing measurable)
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) statuses = {} end
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end
function done(summary, latency, requests)
  local total = {}
  for _, t in ipairs(threads) do
    for s, n in pairs(t:get("statuses")) do total[s] = (total[s] or 0) + n end
  end
  local parts = {}
  for s, n in pairs(total) do table.insert(parts, s .. "=" .. n) end
  table.sort(parts)
  io.write("Statuses: " .. table.concat(parts, " ") .. "\n")
end
LUA

ROWS=()

run_backend() {
  local backend="$1"
  local port data env_extra=()
  port="${PORT:-$(free_port)}"
  data="$WORK/$backend-data"
  mkdir -p "$data"
  case "$backend" in
    sqlite)
      env_extra=(KALEI_DATABASE_URL="sqlite://$data/kalei.db")
      ;;
    postgres)
      PG_DB="kalei_bench_$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
      REDIS_PREFIX="kalei-bench-$PG_DB"
      pg_admin "CREATE DATABASE \"$PG_DB\""
      redis-cli -u "$REDIS_URL" ping >/dev/null
      env_extra=(KALEI_DATABASE_URL="$(pg_url_for "$PG_DB")"
                 KALEI_REDIS_URL="$REDIS_URL"
                 KALEI_REDIS_KEY_PREFIX="$REDIS_PREFIX")
      ;;
    *) echo "unknown backend $backend" >&2; exit 2 ;;
  esac

  log "$backend: starting kalei on 127.0.0.1:$port"
  env KALEI_LISTEN="127.0.0.1:$port" \
      KALEI_DATA_DIR="$data" \
      KALEI_LOG__LEVEL=warn \
      KALEI_AUTH__LOGIN_PER_IP_PER_MINUTE=100000000 \
      KALEI_AUTH__LOGIN_PER_ACCOUNT_PER_15MIN=100000000 \
      KALEI_AUTH__REGISTER_PER_IP_PER_HOUR=1000 \
      "${env_extra[@]}" \
      "$BIN" serve >"$WORK/$backend-server.log" 2>&1 &
  SERVER_PID=$!
  local base="http://127.0.0.1:$port"
  for _ in $(seq 1 300); do
    curl -fsS "$base/healthz" >/dev/null 2>&1 && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/$backend-server.log" >&2; exit 1; }
    sleep 0.1
  done
  curl -fsS "$base/readyz" >/dev/null

  local email="bench-$RANDOM$RANDOM@example.com" password="correct horse battery staple"
  local body
  body="$(jq -cn --arg e "$email" --arg p "$password" '{email:$e,password:$p}')"
  curl -fsS "$base/v1/auth/register" -H 'content-type: application/json' -d "$body" >"$WORK/register.json"
  local access
  access="$(jq -r .access_token "$WORK/register.json")"
  [[ -n "$access" && "$access" != null ]] || { echo "register failed" >&2; cat "$WORK/register.json" >&2; exit 1; }
  # sanity: both endpoints answer 200 before loading them
  curl -fsS -o /dev/null "$base/v1/me" -H "authorization: Bearer $access"
  curl -fsS -o /dev/null "$base/v1/auth/login" -H 'content-type: application/json' -d "$body"

  local endpoint c f conns
  for endpoint in login me; do
    local args=()
    if [[ "$endpoint" == login ]]; then
      args=(-s "$WORK/login.lua" "$base/v1/auth/login")
      conns="$LOGIN_CONNS"
    else
      args=(-H "authorization: Bearer $access" "$base/v1/me")
      conns="$ME_CONNS"
    fi
    if [[ "$(secs "$WARMUP")" -gt 0 ]]; then
      KALEI_BENCH_LOGIN_BODY="$body" wrk -t"$THREADS" -c16 -d"$WARMUP" --timeout 30s "${args[@]}" >/dev/null
    fi
    for c in $conns; do
      f="$WORK/$backend-$endpoint-c$c.txt"
      log "$backend: $endpoint, $c connections, $DURATION (load: $(cut -d' ' -f1-3 /proc/loadavg))"
      local load_before; load_before="$(cut -d' ' -f1 /proc/loadavg)"
      KALEI_BENCH_LOGIN_BODY="$body" wrk -t"$(( THREADS < c ? THREADS : c ))" -c"$c" -d"$DURATION" --timeout 30s --latency "${args[@]}" | tee "$f" >&2
      local load_after; load_after="$(cut -d' ' -f1 /proc/loadavg)"
      local path; [[ "$endpoint" == login ]] && path="POST /v1/auth/login" || path="GET /v1/me"
      ROWS+=("$backend|$path|$c|$(parse_wrk "$f")|$load_before→$load_after")
    done
  done
  log "$backend: server memory: $(awk '/VmHWM|VmRSS|Threads/ {printf "%s %s %s  ", $1, $2, $3}' /proc/"$SERVER_PID"/status 2>/dev/null || echo '?')"
  if [[ -s "$WORK/$backend-server.log" ]]; then
    log "$backend: server warnings/errors (first 20 lines):"
    head -20 "$WORK/$backend-server.log" >&2
  fi
  stop_server
  drop_backing_stores
}

for b in $BACKENDS; do run_backend "$b"; done

mkdir -p "$(dirname "$OUT")"
{
  echo "Commit $COMMIT$DIRTY, $(date -u +'%Y-%m-%d %H:%M UTC'), $(nproc) cores, wrk -t$THREADS -d$DURATION --latency on 127.0.0.1"
  echo
  echo "| backend | endpoint | conns | req/s | p50 | p99 | requests | non-2xx | statuses | socket errors | load avg (1 min) before→after |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|"
  for r in "${ROWS[@]}"; do
    IFS='|' read -r b e c rps p50 p99 reqs non2xx errs statuses load <<<"$r"
    case "$b" in sqlite) b="SQLite";; postgres) b="Postgres + Redis";; esac
    echo "| $b | \`$e\` | $c | $rps | $p50 | $p99 | $reqs | $non2xx | $statuses | $errs | $load |"
  done
} | tee "$OUT"
if awk -F'|' '$9+0 > 0 {bad=1} END {exit !bad}' "$OUT"; then
  echo "WARNING: some runs had non-2xx responses; their req/s and latencies do not measure successful requests" >&2
fi
echo >&2
echo "summary written to $OUT; server logs and raw wrk output in $LOG_DIR" >&2
