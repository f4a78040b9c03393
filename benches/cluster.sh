#!/usr/bin/env bash
# The cluster job, Rust against scikit-learn, back to back on the same bootstrapped matrix
# (the real TidyTuesday songs drawn with replacement up to 170,653 rows, the size of the full
# Kaggle data.csv). Whole-process wall time, start-up and reading included.
#   PYTHON=/tmp/skl/bin/python benches/cluster.sh [../shared/datasets/spotify/spotify_songs.csv.gz]
set -euo pipefail
cd "$(dirname "$0")/.."
data="${1:-../shared/datasets/spotify/spotify_songs.csv.gz}"
python="${PYTHON:-python3}"
matrix="${TMPDIR:-/tmp}/workbench-bench-170k.csv"
bin="${CARGO_TARGET_DIR:-target}/release/workbench"
[ -x "$bin" ] || cargo build --release --locked
"$bin" bench-cluster --data "$data" --rows 170653 --write-matrix "$matrix" >/dev/null
t0=$(date +%s.%N)
"$bin" bench-cluster --data "$matrix" --rows 0
t1=$(date +%s.%N)
"$python" benches/cluster_sklearn.py "$matrix"
t2=$(date +%s.%N)
python3 - "$t0" "$t1" "$t2" <<'PY'
import sys
t0, t1, t2 = map(float, sys.argv[1:])
rust, skl = t1 - t0, t2 - t1
print(f"whole process: workbench {rust:.1f} s, scikit-learn {skl:.1f} s: {skl / rust:.1f}x")
PY
