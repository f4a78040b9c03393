#!/usr/bin/env bash
# The README's demo: the committed default FER model, loaded through its card.
set -euo pipefail
cd "$(dirname "$0")/.."
wb=target/release/workbench
card=models/fer-default.json
echo "== the committed model: $card"
grep -E '"(name|accuracy|macro_f1|best_epoch|epochs_run|git_commit)"' "$card" | head -12
echo
echo "== its speed on this machine"
"$wb" bench-fer --arch none --model "$card" --train-batches 0 --infer-seconds 2
data=""
for candidate in datasets/fer2013/fer2013.csv.gz datasets/fer2013/fer2013.csv ../shared/datasets/fer2013/fer2013.csv.gz; do
    if [ -e "$candidate" ]; then data=$candidate; break; fi
done
if [ -n "$data" ]; then
    echo
    echo "== PrivateTest accuracy, measured now on $data"
    "$wb" eval-fer --model "$card" --data "$data" --split PrivateTest --reports-dir "${TMPDIR:-/tmp}/workbench-demo-reports"
else
    echo
    echo "(no FER2013 here: see datasets/README.md to evaluate the model yourself)"
fi
