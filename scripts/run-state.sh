# Sourced by park-run.sh and gpu-run.sh: what a `train-fer` run's checkpoint state says.

# The epochs run dir $1's checkpoint state says are done; 0 when it has none (its JSON is
# written by train-fer, pretty-printed, with "epochs_done" on a line of its own).
epochs_done() {
    [ -f "$1/checkpoint/state.json" ] || { echo 0; return; }
    sed -n 's/^ *"epochs_done": *\([0-9]*\),*$/\1/p' "$1/checkpoint/state.json" | head -n 1
}
