#!/usr/bin/env bash
# A FER training run on a borrowed GPU machine that has no Rust, no OpenCV and no network, and
# takes at most 64 MiB of files per call: the workbench built here without `vision` and with
# `wgpu` (Vulkan), FER2013 packed to 61 MB, both split over two calls of the machine.
#
#   here:    scripts/gpu-run.sh pack <fer2013.csv.gz>  # builds, packs into .gpu/a and .gpu/b
#   call 1:  scripts/gpu-run.sh stage <config> [quick] # carry .gl .gpu/a; smoke test
#   call 2:  scripts/gpu-run.sh train <secs> <config> <run id>   # carry .gpu/b, at once
#   here:    scripts/gpu-run.sh unpack <files dir> <runs dir>    # the run, resumable here
#
# Call 2 must come while the machine is still warm (its /tmp holds call 1's work). The run is
# stopped after <secs> seconds if not done, and comes back as it stands: `train-fer --resume`
# goes on with it on the CPU from its last epoch (same CSV, so the same data sha256).
# .gl holds the Vulkan loader and GL dispatch libraries the NVIDIA driver needs, as Debian .debs:
# apt-get download libvulkan1 libglvnd0 libegl1 libgl1 libglx0 libgles2 libopengl0.
set -euo pipefail

die() { echo "gpu-run: $*" >&2; exit 1; }
root=$(cd "$(dirname "$0")/.." && pwd)
work=/tmp/gpu-run
# The chunks that come back: at most 8 files of 16 MiB each.
chunk=15m

pack() {
    local data=$1
    [ -f "$data" ] || die "$data: no such file"
    rm -rf "$root/.gpu" && mkdir -p "$root/.gpu/a" "$root/.gpu/b"
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
    # 26 MiB go with the binary (22 MB) in call 1, the rest in call 2: each call takes 64 MiB
    # with the repository (12 MB).
    split -b 26M -d "$root/.gpu/fer.raw.xz" "$root/.gpu/fer.raw.xz."
    mv "$root/.gpu/fer.raw.xz.00" "$root/.gpu/a/" && mv "$root"/.gpu/fer.raw.xz.* "$root/.gpu/b/"
    rm "$root/.gpu/fer.raw.xz"
    du -sh "$root/.gpu/a" "$root/.gpu/b"
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
    cp "$root/.gpu/a/fer.raw.xz.00" "$root/.gpu/a/fer2013.csv.sha256" "$work/"
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

train() {
    local secs=$1 config=$2 run_id=$3 started=$SECONDS
    [ -x "$work/workbench" ] || die "$work/workbench missing: call 2 came after the machine went back; stage again"
    vulkan_env
    cat "$work/fer.raw.xz.00" "$root"/.gpu/b/fer.raw.xz.* | xz -dc >"$work/fer.raw"
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
    local runs=$1 run_id=$2 out=$3 state last
    state=$runs/fer/$run_id/checkpoint/state.json
    [ -f "$state" ] || die "$state: no epoch was checkpointed"
    last=$(sed -n 's/^ *"epochs_done": *\([0-9]*\),*$/\1/p' "$state")
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
    stage) [ $# -ge 2 ] || die "usage: $0 stage <config> [quick]"; stage "$2" "${3:-}" ;;
    train) [ $# -eq 4 ] || die "usage: $0 train <secs> <config> <run id>"; train "$2" "$3" "$4" ;;
    bring-back) [ $# -eq 4 ] || die "usage: $0 bring-back <runs dir> <run id> <out dir>"; bring_back "$2" "$3" "$4" ;;
    unpack) [ $# -eq 3 ] || die "usage: $0 unpack <files dir> <runs dir>"; unpack "$2" "$3" ;;
    *) die "usage: $0 pack|stage|train|unpack (see the top of this file)" ;;
esac
