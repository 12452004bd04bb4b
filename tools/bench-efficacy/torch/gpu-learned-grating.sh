#!/usr/bin/env bash
# One device call that trains learned_grating.py's generator on the GPU and judges it there, with
# its untrained start (the hand-made class-wise code, row lg0) as the control, both made the same
# way (--protect-at bundle: on the bundle's clean train images, so nothing but the bundle and the
# packed training split has to travel). While the generators train, LR-ASPP learns the clean row
# and lg0 (every seed, and lg0 turned grey); then each trained generator's row is judged the same
# way. Everything lands in one archive in $OUT (the device returns at most 8 files).
#
#   tools/bench-efficacy/torch/gpu-learned-grating.sh BUNDLE TRAIN_NPZ G_MINUTES EPOCHS SEEDS BUDGET_S NAME=OPTIONS ...
#   e.g. ... out/carry/bundle-base out/carry/coco-facades-test-256.npz 3.5 30 1,2,3 200 'lga=--batch 16' 'lgb=--batch 16 --p-grey 0.6'
#
# BUNDLE needs only its clean row; TRAIN_NPZ is learned_grating.py --pack-train-data's file. The
# device has no node, so core's grating codes travel as JSON too (UNSEG_GRATING_CODES). Made here,
# in out/carry (34 MiB, under the 64 MiB a call may carry beside the repo):
#   node tools/bench-efficacy/torch/export.mjs --out out/carry/bundle-base --rows none=train-none
#   /usr/bin/python3 tools/bench-efficacy/torch/learned_grating.py --bundle - --out - --pack-train-data out/carry/coco-facades-test-256.npz
#   UNSEG_WRITE_GRATING_CODES=out/carry/grating-codes.json /usr/bin/python3 -c \
#     "import sys; sys.path.insert(0, 'tools/bench-efficacy/torch'); from simulate_grating import product_codes; product_codes(21)"
# and on the device (carry out/carry): UNSEG_GRATING_CODES=out/carry/grating-codes.json before the script.
# Each NAME=OPTIONS trains one generator for G_MINUTES with learned_grating.py's defaults plus
# OPTIONS. DEVICE=cpu and EXTRA (train.py options, e.g. '--device cpu --limit 16 --limit-valid 8')
# make a CPU smoke test of the whole call.
set -uo pipefail
bundle="$1" data="$2" minutes="$3" epochs="$4" seeds="$5" budget="$6"
shift 6
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/gpu-setup.sh" gpu-learned-grating
"$py" -c 'import torch, torchvision; print("gpu-learned-grating: torch", torch.__version__, "torchvision", torchvision.__version__)'
LG=("$py" "$here/learned_grating.py" --bundle "$bundle" --train-data "$data" --protect-at bundle --device "${DEVICE:-cuda}" --threads 2)
J=("$py" "$here/train.py" --arch lraspp_mobilenet_v3_large --epochs "$epochs" --time-budget-s "$budget" ${EXTRA:-})

judge() { # bundle row: every seed with the clean row beside it (when asked), then the row turned grey
  local b="$1" row="$2" rows="$3"
  "${J[@]}" --bundle "$b" --rows "$rows" --seeds "$seeds" --parallel --out "$work/j-$row" >"$work/j-$row.log" 2>&1 &
  "${J[@]}" --bundle "$b" --rows "$row" --seeds "$seeds" --parallel --defense gray --out "$work/j-$row-gray" >"$work/j-$row-gray.log" 2>&1 &
}

gens=()
names=()
for spec in "$@"; do
  name="${spec%%=*}" opts="${spec#*=}"
  # shellcheck disable=SC2086 # OPTIONS are words on purpose
  "${LG[@]}" --row "$name" --out "$work/$name" --max-minutes "$minutes" $opts >"$work/$name.gen.log" 2>&1 &
  gens+=($!) names+=("$name")
done
"${LG[@]}" --row lg0 --out "$work/lg0" --train-steps 0 >"$work/lg0.gen.log" 2>&1 || echo "gpu-learned-grating: lg0 failed"
judge "$work/lg0" lg0 none,lg0
for i in "${!gens[@]}"; do
  if wait "${gens[$i]}"; then judge "$work/${names[$i]}" "${names[$i]}" "${names[$i]}"
  else echo "gpu-learned-grating: generator ${names[$i]} failed"; fi
done
wait
for log in "$work"/*.log; do echo "== $(basename "$log")"; grep -v '^epoch\|^{"step"\|^\[' "$log" | tail -n 14; done
for name in "${names[@]}"; do grep '^{"step"' "$work/$name.gen.log" | tail -n 2; done
# the bundles are large and rebuilt from the generators: only the logs, results and G's weights travel back
tar -czf "$out/gpu-learned-grating.tgz" -C "$work" --exclude='*.zlib' --exclude='*.jpgs' .
