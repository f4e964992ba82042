#!/usr/bin/env bash
# Side-by-side throughput of the Kalei analysis engine and the Python
# vaderSentiment package on the same texts, plus sentiment-sign agreement.
#
#   bash bench/analysis/vader_compare.sh [PATH_TO_distortions-dev.csv]
#
# Creates its own venv (bench/analysis/.venv, git-ignored via .venv/) and
# installs vaderSentiment from PyPI. The data is read in place from ../shared.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
DATA="${1:-$ROOT/../shared/data/distortions-dev.csv}"
VENV="$ROOT/bench/analysis/.venv"
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT

if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check vaderSentiment
fi

echo "== kalei-analysis (release, one thread)"
cargo run --quiet --release -p kalei-analysis --example bench -- "$DATA" --seconds 3 --polarity-out "$OUT/kalei.txt" | tee "$OUT/kalei.log"

echo "== vaderSentiment (CPython, one thread)"
"$VENV/bin/python" "$ROOT/bench/analysis/vader_bench.py" "$DATA" "$OUT/kalei.txt" "$OUT/kalei.log"
