#!/usr/bin/env bash
# AI gateway overhead: kalei-ai (in process) and the LiteLLM proxy side by
# side, against the same mock OpenAI-compatible providers (0 ms and 50 ms),
# open-loop at the given rates on loopback. Bounded: SECS per point
# (default 10) for each of direct / gateway / gateway+budgets / LiteLLM.
#
#   bash bench/ai/run.sh                       # RATES=100,1000,5000 SECS=10
#   SKIP_LITELLM=1 bash bench/ai/run.sh        # kalei-ai only
#
# LiteLLM is installed from PyPI into bench/ai/.venv (ignored by git) and run
# with LITELLM_LOCAL_MODEL_COST_MAP=True (no network at start).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
SECS=${SECS:-10}
RATES=${RATES:-100,1000,5000}
LITELLM_VERSION=${LITELLM_VERSION:-1.106.2}
LITELLM_WORKERS=${LITELLM_WORKERS:-1}
OUT=bench/ai/results
mkdir -p "$OUT"
STAMP=$(date -u +%Y%m%dT%H%M%SZ)

cargo build --release -p kalei-ai --example mock_openai --example gateway_bench
BIN=$CARGO_TARGET_DIR/release/examples

PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 3
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

"$BIN/mock_openai" 127.0.0.1:18080 0 1 > "$OUT/mock0.log" 2>&1 & PIDS+=($!)
"$BIN/mock_openai" 127.0.0.1:18081 50 1 > "$OUT/mock50.log" 2>&1 & PIDS+=($!)

LITELLM_ARG=()
if [ "${SKIP_LITELLM:-0}" != 1 ]; then
  VENV=bench/ai/.venv
  if ! "$VENV/bin/python" -c "import litellm, sys; sys.exit(0 if litellm.__version__ == '$LITELLM_VERSION' else 1)" 2>/dev/null \
     && ! "$VENV/bin/pip" show litellm 2>/dev/null | grep -q "^Version: $LITELLM_VERSION$"; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q "litellm[proxy]==$LITELLM_VERSION"
  fi
  KEY="sk-$(openssl rand -hex 32)"
  LITELLM_MASTER_KEY=$KEY LITELLM_LOCAL_MODEL_COST_MAP=True LITELLM_LOG=ERROR \
    "$VENV/bin/litellm" --config bench/ai/litellm.yaml --host 127.0.0.1 --port 4000 \
    --num_workers "$LITELLM_WORKERS" > "$OUT/litellm-$STAMP.log" 2>&1 & PIDS+=($!)
  for _ in $(seq 1 120); do
    curl -sf http://127.0.0.1:4000/health/liveliness > /dev/null && break
    sleep 1
  done
  curl -sf http://127.0.0.1:4000/health/liveliness > /dev/null || { echo "LiteLLM did not start"; tail -20 "$OUT/litellm-$STAMP.log"; exit 1; }
  LITELLM_ARG=(--litellm http://127.0.0.1:4000 --litellm-key "$KEY")
fi
sleep 1

{
  echo "# AI gateway overhead, $STAMP"
  echo "uptime before: $(uptime)"
  echo "nproc: $(nproc); litellm: ${LITELLM_VERSION} (workers: $LITELLM_WORKERS)"
  echo
  "$BIN/gateway_bench" --mock0 http://127.0.0.1:18080/v1 --mock50 http://127.0.0.1:18081/v1 \
    "${LITELLM_ARG[@]}" --rates "$RATES" --secs "$SECS"
  echo
  echo "uptime after: $(uptime)"
} | tee "$OUT/$STAMP.md"
