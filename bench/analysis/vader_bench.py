"""VADER throughput on the dev-set texts and sign agreement with Kalei's polarity.

Usage: vader_bench.py DATA.csv KALEI_POLARITY.txt KALEI_BENCH.log
"""
import csv
import re
import sys
import time

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

data, kalei_pol, kalei_log = sys.argv[1:4]
texts = [r["Patient Question"] for r in csv.DictReader(open(data, encoding="utf-8"))]
nbytes = sum(len(t.encode("utf-8")) for t in texts)
an = SentimentIntensityAnalyzer()

scores = [an.polarity_scores(t)["compound"] for t in texts]  # warm-up + values
best = 0.0
best_cpu = 0.0
for _ in range(3):
    t0 = time.perf_counter()
    c0 = time.thread_time()
    for t in texts:
        an.polarity_scores(t)
    el = time.perf_counter() - t0
    cpu = time.thread_time() - c0
    best = max(best, nbytes / el / 1e6)
    best_cpu = max(best_cpu, nbytes / cpu / 1e6)
print(f"vaderSentiment: {len(texts)} texts, {nbytes/1e6:.2f} MB per pass -> {best:.2f} MB/s per core, {best_cpu:.2f} MB per CPU-second (best of 3 passes)")

ours = [float(x) for x in open(kalei_pol).read().split()]
assert len(ours) == len(scores), (len(ours), len(scores))


def sign(x, band=0.05):
    return 0 if abs(x) < band else (1 if x > 0 else -1)


agree3 = sum(sign(a) == sign(b) for a, b in zip(ours, scores)) / len(scores)
both = [(a, b) for a, b in zip(ours, scores) if sign(a) != 0 and sign(b) != 0]
agree2 = sum(sign(a) == sign(b) for a, b in both) / max(1, len(both))
print(f"sign agreement (neg/neutral/pos, |x|<0.05 neutral): {agree3:.3f}")
print(f"sign agreement where both are non-neutral: {agree2:.3f} ({len(both)} texts)")

m = re.search(r"([0-9.]+) MB/s per core", open(kalei_log).read())
if m:
    ours_mbs = float(m.group(1))
    print(f"throughput ratio kalei/vader: {ours_mbs / best:.1f}x (full analysis vs VADER sentiment only, wall clock)")
m = re.search(r"full analysis:.* ([0-9.]+) MB per CPU-second", open(kalei_log).read())
if m:
    print(f"throughput ratio kalei/vader per CPU-second: {float(m.group(1)) / best_cpu:.1f}x")
