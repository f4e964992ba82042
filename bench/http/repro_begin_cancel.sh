#!/usr/bin/env bash
# Reproduces a wedged SQLite database after clients disconnect while the server
# is inside `Db::begin()` (found while running bench/http/auth.sh).
#
#   bash bench/http/repro_begin_cancel.sh      # uses target/release/kalei (build it first)
#   BACKEND=postgres bash bench/http/repro_begin_cancel.sh   # the Postgres variant (sqlx upstream
#       issue transact-rs/sqlx#4393): leaked "idle in transaction" sessions in a fresh kalei_repro_* database
#
# What it does (loopback only, bounded: at most 40 one-second wrk bursts):
#   1. starts kalei on SQLite in a temp dir, registers one user;
#   2. fires 1 s wrk bursts (64 connections) of POST /v1/auth/refresh with a
#      bogus token: every request opens a transaction (`Db::begin`), so when wrk
#      closes its connections at the end of a burst, some handlers are dropped
#      inside `begin`;
#   3. after each burst, one login. A healthy server answers 200. A wedged one
#      answers 500: "attempted to call begin_with at non-zero transaction
#      depth" or, after busy_timeout (5 s), "database is locked".
#
# Cause: sqlx-sqlite 0.8.6 `SqliteTransactionManager::begin` with a custom
# statement (`begin_with("BEGIN IMMEDIATE")`, crates/kalei-store/src/db.rs)
# awaits `conn.lock_handle()` after BEGIN has run. A future dropped at that
# await never builds the `Transaction`, so nothing rolls back; the connection
# returns to the pool inside a write transaction that holds SQLite's write
# lock until the pool closes that connection.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
WORK="$(mktemp -d /tmp/kalei-repro-begin.XXXXXX)"
cp "$ROOT/target/release/kalei" "$WORK/kalei"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
PID=""
cleanup() { [[ -n "$PID" ]] && kill "$PID" 2>/dev/null; wait 2>/dev/null || true; echo "server log: $WORK/server.log"; }
trap cleanup EXIT

BACKEND="${BACKEND:-sqlite}"
PG_ADMIN_URL="${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
DB=""
DBURL="sqlite://$WORK/data/kalei.db"
if [[ "$BACKEND" == postgres ]]; then
  DB="kalei_repro_$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
  psql "$PG_ADMIN_URL" -qc "CREATE DATABASE \"$DB\""
  DBURL="${PG_ADMIN_URL%/*}/$DB"
  trap 'cleanup; psql "$PG_ADMIN_URL" -qc "DROP DATABASE IF EXISTS \"$DB\" WITH (FORCE)"' EXIT
fi
KALEI_DATABASE_URL="$DBURL" KALEI_LISTEN="127.0.0.1:$PORT" KALEI_DATA_DIR="$WORK/data" KALEI_LOG__LEVEL=warn \
  KALEI_AUTH__LOGIN_PER_IP_PER_MINUTE=100000 KALEI_AUTH__LOGIN_PER_ACCOUNT_PER_15MIN=100000 \
  "$WORK/kalei" serve >"$WORK/server.log" 2>&1 &
PID=$!
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break; sleep 0.1; done

BODY='{"email":"repro@example.com","password":"correct horse battery staple"}'
curl -fsS -o /dev/null "http://127.0.0.1:$PORT/v1/auth/register" -H 'content-type: application/json' -d "$BODY"
cat >"$WORK/refresh.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["content-type"] = "application/json"
wrk.body = '{"refresh_token":"bogus-refresh-token-0000000000000000000000000000"}'
LUA

if [[ "$BACKEND" == postgres ]]; then
  for burst in $(seq 1 10); do
    wrk -t2 -c64 -d1s -s "$WORK/refresh.lua" "http://127.0.0.1:$PORT/v1/auth/refresh" >/dev/null
  done
  sleep 5   # nothing is in flight now; a healthy pool has no open transaction
  n="$(psql "$PG_ADMIN_URL" -Atc "SELECT count(*) FROM pg_stat_activity WHERE datname = '$DB' AND state LIKE 'idle in transaction%'")"
  psql "$PG_ADMIN_URL" -Atc "SELECT pid, state, now() - xact_start AS open_for, left(query, 60) FROM pg_stat_activity WHERE datname = '$DB' AND state LIKE 'idle in transaction%'"
  echo "server warnings:"; grep -o '"message":"[^"]*transaction[^"]*"' "$WORK/server.log" | sort | uniq -c
  if [[ "$n" -gt 0 ]]; then echo "REPRODUCED: $n pooled connections idle in transaction 5 s after the load stopped"; exit 0; fi
  echo "not reproduced"; exit 1
fi

for burst in $(seq 1 40); do
  wrk -t2 -c64 -d1s -s "$WORK/refresh.lua" "http://127.0.0.1:$PORT/v1/auth/refresh" >/dev/null
  code="$(curl -s -o "$WORK/login.json" -w '%{http_code}' --max-time 15 \
    "http://127.0.0.1:$PORT/v1/auth/login" -H 'content-type: application/json' -d "$BODY")"
  if [[ "$code" != 200 ]]; then
    echo "after burst $burst: login answered $code"
    for _ in 1 2 3; do
      curl -s -o /dev/null -w 'login again: %{http_code} in %{time_total}s\n' --max-time 15 \
        "http://127.0.0.1:$PORT/v1/auth/login" -H 'content-type: application/json' -d "$BODY"
    done
    if command -v sqlite3 >/dev/null; then
      echo -n "an outside writer: "
      sqlite3 -cmd ".timeout 1000" "$WORK/data/kalei.db" "CREATE TABLE _repro(x); DROP TABLE _repro;" 2>&1 && echo ok || true
    fi
    echo "server errors:"; grep -o '"error":"[^"]*"' "$WORK/server.log" | sort | uniq -c | sort -rn | head -5
    echo "REPRODUCED"
    exit 0
  fi
done
echo "not reproduced in 40 bursts"
exit 1
