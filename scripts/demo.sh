#!/usr/bin/env bash
# The README's demo: `workbench infer` on the committed clip with the committed default models
# (models/fer-default.json for faces, models/song-clusters.json for songs). No data download.
set -euo pipefail
cd "$(dirname "$0")/.."
wb="${CARGO_TARGET_DIR:-target}/release/workbench"
clip=datasets/clips/clip.gif
echo "== workbench infer $clip   (faces -> emotions over time -> mood -> songs)"
"$wb" infer "$clip"
echo
echo "Open the report above in a browser. Other clips: $wb infer datasets/clips/WolfgangLanger_Pexels.mp4"
echo "The FER model's PrivateTest accuracy, reproduced from FER2013 (see datasets/README.md):"
echo "  $wb eval-fer --model models/fer-default.json --data path/to/fer2013.csv.gz --split PrivateTest"
