#!/usr/bin/env bash
# `workbench infer` speed, Haar and YuNet side by side: frames/s of the pipeline (decode + detect
# + classify) and the whole process's wall time, start-up, model loading and report included, on
# the shipped clips. Peak memory is printed by infer itself (VmHWM) to show it stays flat as
# clips grow. Run it on an idle machine; each line is the median of three runs. MODEL=<card>
# times another FER model (e.g. one whose card adds test-time augmentation) instead of the shipped one.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${CARGO_TARGET_DIR:-target}/release/workbench"
[ -x "$bin" ] || cargo build --release --locked
out="${TMPDIR:-/tmp}/workbench-bench-infer"
model=()
[ -z "${MODEL:-}" ] || model=(--model "$MODEL")
rm -rf "$out"
for clip in datasets/clips/clip.gif datasets/clips/WolfgangLanger_Pexels.mp4; do
    for detector in haar yunet; do
        for mode in "--no-report" ""; do
            "$bin" infer "$clip" "${model[@]}" --detector "$detector" $mode --reports-dir "$out" >/dev/null 2>"$out.log" || { cat "$out.log"; exit 1; }  # warm the page cache
            runs=()
            for _ in 1 2 3; do
                t0=$(date +%s.%N)
                "$bin" infer "$clip" "${model[@]}" --detector "$detector" $mode --reports-dir "$out" >/dev/null 2>"$out.log"
                t1=$(date +%s.%N)
                runs+=("$(echo "$t1 - $t0" | bc -l) $(grep -o '[0-9.]* frames/s' "$out.log" | cut -d' ' -f1) $(grep -o 'peak memory [0-9]* MiB' "$out.log" | cut -d' ' -f3)")
            done
            median=$(printf '%s\n' "${runs[@]}" | sort -n | sed -n 2p)
            read -r wall fps mib <<<"$median"
            printf '%-44s %-6s %-12s wall %6.3f s  pipeline %6.1f frames/s  peak %s MiB\n' "$clip" "$detector" "${mode:-(report)}" "$wall" "$fps" "$mib"
        done
    done
done
