#!/usr/bin/env bash
# `workbench infer` speed: frames/s of the pipeline (decode + detect + classify) and the whole
# process's wall time, start-up, model loading and report included, on the shipped clips.
# Peak memory is printed by infer itself (VmHWM) to show it stays flat as clips grow.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${CARGO_TARGET_DIR:-target}/release/workbench"
[ -x "$bin" ] || cargo build --release --locked
out="${TMPDIR:-/tmp}/workbench-bench-infer"
rm -rf "$out"
for clip in datasets/clips/clip.gif datasets/clips/WolfgangLanger_Pexels.mp4; do
    for mode in "--no-report" ""; do
        "$bin" infer "$clip" $mode --reports-dir "$out" >/dev/null 2>"$out.log" || { cat "$out.log"; exit 1; }  # warm the page cache
        t0=$(date +%s.%N)
        "$bin" infer "$clip" $mode --reports-dir "$out" >/dev/null 2>"$out.log"
        t1=$(date +%s.%N)
        summary=$(grep "frames/s" "$out.log")
        printf '%-44s %-12s wall %6.3f s | %s\n' "$clip" "${mode:-(report)}" "$(echo "$t1 - $t0" | bc -l)" "$summary"
    done
done
