#!/usr/bin/env bash
# Job-queue benchmark: Kalei's queue on SQLite and Postgres, and
# graphile-worker (npm) against the same local Postgres in its own database,
# in one run. Results: bench/jobs/results/<timestamp>.jsonl, summary on stdout.
#
#   bench/jobs/run.sh                      # defaults below
#   JOBS=20000 SECONDS_PER=5 bench/jobs/run.sh
#
# Needs: cargo, node + npm, Postgres at $PG_URL (trust auth). Everything stays
# on loopback; each scenario is bounded in time.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
PG_URL="${PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
JOBS="${JOBS:-20000}"
SECONDS_PER="${SECONDS_PER:-10}"
RATE="${RATE:-1000}"
CONC="${CONC:-32,256}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"

mkdir -p "$here/results"
out="$here/results/$(date -u +%Y%m%dT%H%M%SZ).jsonl"
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB; $(psql "$PG_URL" -Atc 'select version()' | cut -d' ' -f1-2); node $(node --version); load average at start: $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$out.txt"

(cd "$root" && cargo build --release -q -p kalei-store --example queue_bench)
bench="$CARGO_TARGET_DIR/release/examples/queue_bench"
[ -d "$here/graphile/node_modules/graphile-worker" ] || "$here/install_graphile.sh"

"$bench" --db sqlite --jobs "$JOBS" --seconds "$SECONDS_PER" --rate "$RATE" --concurrency "$CONC" | tee -a "$out"
"$bench" --db "$PG_URL" --jobs "$JOBS" --seconds "$SECONDS_PER" --rate "$RATE" --concurrency "$CONC" | tee -a "$out"
for c in ${CONC//,/ }; do
  for mode in unbatched batched; do
    node "$here/graphile/graphile_bench.mjs" "$PG_URL" "$JOBS" "$c" "$mode" | tee -a "$out"
  done
done
# The same with every commit of the bench databases asynchronous: what the
# queues do when this machine's fsync (several ms) is taken out.
if [ "${ASYNC_PASS:-1}" = 1 ]; then
  "$bench" --db "$PG_URL" --pg-async-commit --jobs "$JOBS" --seconds "$SECONDS_PER" --rate "$RATE" --concurrency "$CONC" | tee -a "$out"
  for c in ${CONC//,/ }; do
    for mode in unbatched batched; do
      node "$here/graphile/graphile_bench.mjs" "$PG_URL" "$JOBS" "$c" "$mode" async | tee -a "$out"
    done
  done
fi

python3 - "$out" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
print("\nsummary")
for r in rows:
    name = r.get("system", "kalei")
    extra = " ".join(f"{k}={r[k]}" for k in ("clients", "batch", "concurrency", "mode", "rate") if k in r)
    if "p99_ms" in r:
        val = f"p50 {r['p50_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms"
        if "after_commit_p99_ms" in r:
            val += f" (after commit: p50 {r['after_commit_p50_ms']:.2f}, p99 {r['after_commit_p99_ms']:.2f})"
    else:
        val = f"{r['jobs_per_sec']:.0f} jobs/s"
    print(f"  {name:24} {r['backend']:23} {r['scenario']:26} {extra:30} {val}")
for backend in ("postgres", "postgres(async commit)"):
    for c in sorted({r["concurrency"] for r in rows if r["scenario"] == "drain"}):
        k = next((r for r in rows if r["scenario"] == "drain" and r["backend"] == backend
                  and r.get("concurrency") == c and "system" not in r), None)
        for mode in ("unbatched", "batched"):
            g = next((r for r in rows if r.get("system", "").startswith("graphile")
                      and r["backend"] == backend and r.get("concurrency") == c
                      and r.get("mode") == mode), None)
            if k and g and g["jobs_per_sec"]:
                print(f"  ratio kalei / graphile-worker ({mode}) on {backend} at concurrency {c}: "
                      f"{k['jobs_per_sec'] / g['jobs_per_sec']:.2f}x")
PY
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out.txt"
echo "results: $out"
