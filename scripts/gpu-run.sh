#!/usr/bin/env bash
# A FER training run on a borrowed GPU machine that has no Rust, no OpenCV and no network, and
# takes at most 64 MiB of files per call, the repository included: the workbench built here
# without `vision` and with `wgpu` (Vulkan), FER2013 packed to 61 MB, spread over a few calls.
#
#   here:    scripts/gpu-run.sh pack <fer2013.csv.gz>  # builds, packs into .gpu/a, .gpu/b, ...
#   call 1:  scripts/gpu-run.sh stage <config> [quick] # carry .gl .gpu/a; smoke test
#   call 2…: scripts/gpu-run.sh add                    # carry .gpu/b (then .gpu/c, ...)
#   last:    scripts/gpu-run.sh train <secs> <config> <run id>   # carry the last .gpu folder
#   here:    scripts/gpu-run.sh unpack <files dir> <runs dir>    # the run, resumable here
#
# Each call must come while the machine is still warm (its /tmp holds the calls' work; `pack`
# says how many calls there are). The run is stopped after <secs> seconds if not done, and
# comes back as it stands: `train-fer --resume` goes on with it on the CPU from its last epoch
# (same CSV, so the same data sha256).
# .gl holds the Vulkan loader and GL dispatch libraries the NVIDIA driver needs, as Debian .debs:
# apt-get download libvulkan1 libglvnd0 libegl1 libgl1 libglx0 libgles2 libopengl0.
set -euo pipefail

die() { echo "gpu-run: $*" >&2; exit 1; }
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/run-state.sh
. "$root/scripts/run-state.sh"
work=/tmp/gpu-run
# The chunks that come back: at most 8 files of 16 MiB each.
chunk=15m

pack() {
    local data=$1
    [ -f "$data" ] || die "$data: no such file"
    rm -rf "$root/.gpu" && mkdir -p "$root/.gpu/a"
    cargo build --release --locked --no-default-features --features wgpu
    strip -o "$root/.gpu/workbench" "$root/target/release/workbench"
    xz -T0 -6 "$root/.gpu/workbench" && mv "$root/.gpu/workbench.xz" "$root/.gpu/a/"
    python3 "$root/scripts/fer_pack.py" pack "$data" "$root/.gpu/fer.raw"
    python3 "$root/scripts/fer_pack.py" unpack "$root/.gpu/fer.raw" "$root/.gpu/fer2013.csv"
    sha256sum "$root/.gpu/fer2013.csv" | cut -d' ' -f1 >"$root/.gpu/a/fer2013.csv.sha256"
    # For call 1's smoke test: a few faces of each split.
    awk -F, 'NR == 1 || ($3 ~ /^Training/ && t++ < 256) || ($3 ~ /^PublicTest/ && u++ < 64) ||
        ($3 ~ /^PrivateTest/ && v++ < 64)' "$root/.gpu/fer2013.csv" | gzip >"$root/.gpu/a/sample.csv.gz"
    rm "$root/.gpu/fer2013.csv"
    xz -T0 -9e "$root/.gpu/fer.raw"
    split -b 4M -d -a 3 "$root/.gpu/fer.raw.xz" "$root/.gpu/fer.raw.xz."
    rm "$root/.gpu/fer.raw.xz"
    spread_chunks
    du -sh "$root"/.gpu/*/
}

# Puts the data's chunks in .gpu/a, .gpu/b, ...: each call's folder, with the repository, under
# the 64 MiB a call carries (1 MiB kept spare).
spread_chunks() {
    local repo room folder=a size
    repo=$(cd "$root" && git ls-files -z --cached --others --exclude-standard | du -cb --files0-from=- | tail -n 1 | cut -f1)
    room=$((63 * 1024 * 1024 - repo - $(du -cb "$root/.gl" | tail -n 1 | cut -f1)))
    for f in "$root"/.gpu/fer.raw.xz.*; do
        size=$(du -cb "$root/.gpu/$folder" | tail -n 1 | cut -f1)
        if [ $((size + $(stat -c %s "$f"))) -gt "$room" ]; then
            folder=$(echo "$folder" | tr 'a-y' 'b-z')
            mkdir -p "$root/.gpu/$folder"
        fi
        mv "$f" "$root/.gpu/$folder/"
    done
}

# The NVIDIA Vulkan driver's manifest, for the loader that .gl brings.
vulkan_env() {
    local icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
    [ -f "$icd" ] || icd=$(find / -xdev -name 'nvidia_icd*.json' 2>/dev/null | head -n 1)
    [ -n "$icd" ] || die "no NVIDIA Vulkan driver manifest (nvidia_icd.json) on this machine"
    export VK_DRIVER_FILES=$icd VK_LOADER_DEBUG=error
}

stage() {
    mkdir -p "$work"
    for f in "$root"/.gl/*.deb; do dpkg -x "$f" /; done
    ldconfig
    vulkan_env
    xz -dc "$root/.gpu/a/workbench.xz" >"$work/workbench" && chmod +x "$work/workbench"
    cp "$root/.gpu/a/fer2013.csv.sha256" "$work/"
    add
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
    "$work/workbench" --version
    [ "${2:-}" != quick ] || return 0
    # A training step on the GPU, timed (fresh weights).
    timeout 90 "$work/workbench" bench-fer --backend wgpu --arch vgg --train-batches 30 \
        --infer-seconds 1 || echo "gpu-run: bench-fer on wgpu failed (exit $?)"
    # train-fer end to end (train, checkpoint, export, measure) on the sample.
    timeout 150 "$work/workbench" train-fer --backend wgpu --config "$root/$1" --epochs 2 \
        --data "$root/.gpu/a/sample.csv.gz" --run-id smoke --reports-dir "$work/smoke" \
        --models-dir "$work/smoke/models" || echo "gpu-run: train-fer on wgpu failed (exit $?)"
}

# Keeps the data chunks this call carried.
add() {
    [ -d "$work" ] || die "$work missing: this call came after the machine went back; stage again"
    cp "$root"/.gpu/*/fer.raw.xz.* "$work/"
    echo "gpu-run: $(ls "$work"/fer.raw.xz.* | wc -l) data chunks here"
}

train() {
    local secs=$1 config=$2 run_id=$3 started=$SECONDS
    [ -x "$work/workbench" ] || die "$work/workbench missing: this call came after the machine went back; stage again"
    vulkan_env
    add
    cat "$work"/fer.raw.xz.* | xz -dc >"$work/fer.raw"
    python3 "$root/scripts/fer_pack.py" unpack "$work/fer.raw" "$work/fer2013.csv"
    echo "$(cat "$work/fer2013.csv.sha256")  $work/fer2013.csv" | sha256sum -c --quiet \
        || die "the rebuilt CSV is not the packed one"
    echo "gpu-run: data ready after $((SECONDS - started)) s"
    local rc=0
    timeout --signal=INT "$((secs - (SECONDS - started)))" "$work/workbench" train-fer \
        --backend wgpu --config "$root/$config" --data "$work/fer2013.csv" --run-id "$run_id" \
        --reports-dir "$work/runs" --models-dir "$work/runs/models" || rc=$?
    echo "gpu-run: train-fer ended with exit $rc after $((SECONDS - started)) s"
    bring_back "$work/runs" "$run_id" "$OUT"
}

# The run as it stands, in chunks under $3; of the optimiser's moments only the last epoch's
# (what resumes).
bring_back() {
    local runs=$1 run_id=$2 out=$3 last
    last=$(epochs_done "$runs/fer/$run_id")
    [ "$last" -gt 0 ] || die "$runs/fer/$run_id: no epoch was checkpointed"
    (cd "$runs" && find "fer/$run_id" -type f ! -name 'optim-e*' &&
        { [ ! -d models ] || find models -type f; } &&
        echo "fer/$run_id/checkpoint/optim-e$(printf '%03d' "$last").bpk") \
        | tar -C "$runs" -cf - -T - | split -b "$chunk" -d - "$out/run.tar."
    ls -la "$out"
}

unpack() {
    local files=$1 runs=$2
    mkdir -p "$runs"
    cat "$files"/run.tar.* | tar -C "$runs" -xf -
    echo "gpu-run: $(ls "$runs/fer" | tr "\n" " ")in $runs/fer"
}

case "${1:-}" in
    pack) [ $# -eq 2 ] || die "usage: $0 pack <fer2013.csv.gz>"; pack "$2" ;;
    add) add ;;
    stage) [ $# -ge 2 ] || die "usage: $0 stage <config> [quick]"; stage "$2" "${3:-}" ;;
    train) [ $# -eq 4 ] || die "usage: $0 train <secs> <config> <run id>"; train "$2" "$3" "$4" ;;
    bring-back) [ $# -eq 4 ] || die "usage: $0 bring-back <runs dir> <run id> <out dir>"; bring_back "$2" "$3" "$4" ;;
    unpack) [ $# -eq 3 ] || die "usage: $0 unpack <files dir> <runs dir>"; unpack "$2" "$3" ;;
    *) die "usage: $0 pack|stage|add|train|unpack (see the top of this file)" ;;
esac
