#!/usr/bin/env bash
# Parks a `train-fer` run's resume point inside the repository, and brings it back, so a long
# run outlives the machine it ran on (a session's machine may be replaced, and with it every
# folder outside the repository: two runs were lost that way).
#
#   scripts/park-run.sh save    <run dir> [<parked dir>]   # after an epoch's checkpoint
#   scripts/park-run.sh restore <parked dir> <run dir>     # then train-fer --resume
#
# <run dir> is <reports dir>/fer/<run id>; <parked dir> defaults to experiments/runs/<run id>.
# The resume point is what `train-fer --resume` reads: the checkpoint state (history, best
# epoch, data sha256), the run's config, and the last epoch's weights and optimiser moments,
# plus the best epoch's weights (git stores them once when they are the last epoch's). The
# older epochs kept for weight averaging stay behind: the run keeps its last five again as it
# goes on. Nothing is overwritten that holds more epochs than what replaces it.
set -euo pipefail

die() { echo "park-run: $*" >&2; exit 1; }
# shellcheck source=scripts/run-state.sh
. "$(dirname "$0")/run-state.sh"

# Copies the resume point of run $1 into a new folder $2 (which must not exist).
copy_resume_point() {
    local from=$1 to=$2 n
    n=$(epochs_done "$from")
    [ -n "$n" ] && [ "$n" -gt 0 ] || die "$from: no checkpointed epoch to park"
    local e
    e=$(printf '%03d' "$n")
    mkdir -p "$to/checkpoint"
    cp "$from/config.toml" "$to/"
    cp "$from/checkpoint/state.json" "$from/checkpoint/best.bpk" \
        "$from/checkpoint/model-e$e.bpk" "$from/checkpoint/optim-e$e.bpk" "$to/checkpoint/"
    # History and curves, small, so the parked run can be read as it stands.
    find "$from" -maxdepth 1 -type f ! -name config.toml ! -name '.*' -exec cp {} "$to/" \;
}

# Replaces folder $2 by a full copy of $1's resume point, refusing to go back in epochs.
replace_with() {
    local from=$1 to=$2 have want
    have=$(epochs_done "$to")
    want=$(epochs_done "$from")
    [ -n "$want" ] && [ "$want" -gt 0 ] || die "$from: no checkpointed epoch"
    [ "${have:-0}" -le "$want" ] || die "$to holds $have epochs, more than the $want of $from: left as it is"
    if [ "${have:-0}" -eq "$want" ]; then
        echo "park-run: $to already holds epoch $want: left as it is"
        return
    fi
    # A global, so the trap still names it when a failed copy ends the script.
    tmp="$to.park-tmp.$$"
    trap 'rm -rf "$tmp"' EXIT
    copy_resume_point "$from" "$tmp"
    rm -rf "$to.park-old.$$"
    [ ! -e "$to" ] || mv "$to" "$to.park-old.$$"
    mv "$tmp" "$to"
    rm -rf "$to.park-old.$$"
    echo "park-run: $to holds epoch $want of $(basename "$from")"
}

case "${1:-}" in
    save)
        [ $# -ge 2 ] || die "usage: $0 save <run dir> [<parked dir>]"
        run=${2%/}
        parked=${3:-"$(cd "$(dirname "$0")/.." && pwd)/experiments/runs/$(basename "$run")"}
        replace_with "$run" "${parked%/}"
        ;;
    restore)
        [ $# -eq 3 ] || die "usage: $0 restore <parked dir> <run dir>"
        mkdir -p "$(dirname "${3%/}")"
        replace_with "${2%/}" "${3%/}"
        ;;
    *)
        die "usage: $0 save <run dir> [<parked dir>] | restore <parked dir> <run dir>"
        ;;
esac
