#!/usr/bin/env bash
# One device call's worth of judge runs, all at once on the one GPU: for each architecture, the
# clean row and the protected rows (ROWS, comma-separated) with every seed, plus each protected row
# after each defense (first seed). Each group gets its own folder under a scratch dir; at the end everything is
# packed into one archive in $OUT (the device returns at most 8 files), with the merged tables
# printed, so a run cut by its time budget still returns what finished. EXTRA adds train.py
# options to every run (a CPU smoke test: EXTRA='--device cpu --limit 16 --limit-valid 8').
# DEFENSES picks the defended runs (default 'gray jpeg75 blur1'; '' for none), so that longer runs
# fit one call; ARCH:EPOCHS:SEEDS:DEFENSES sets them for one net ('gray+jpeg75', '-' for none).
#
#   tools/bench-efficacy/torch/gpu-table.sh BUNDLE ROWS BUDGET_S ARCH:EPOCHS:SEEDS ...
#   e.g. tools/bench-efficacy/torch/gpu-table.sh out/torch-bundle-c20 c20 330 deeplabv3_resnet50:40:1,2 lraspp_mobilenet_v3_large:30:1,2,3
set -uo pipefail
bundle="$1" rows="$2" budget="$3"
shift 3
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/gpu-setup.sh" gpu-table
pids=()
for spec in "$@"; do
  IFS=: read -r arch epochs seeds defenses <<<"$spec"
  # A fourth field picks this net's defenses ('gray+jpeg75'; '-' for none), else DEFENSES.
  if [[ -n "$defenses" ]]; then defenses="${defenses//+/ }"; [[ "$defenses" == "-" ]] && defenses=""; else defenses="${DEFENSES-gray jpeg75 blur1}"; fi
  [[ -n "$arch" && -n "$epochs" && -n "$seeds" ]] || { echo "gpu-table: '$spec' is not ARCH:EPOCHS:SEEDS" >&2; exit 2; }
  first_seed="${seeds%%,*}"
  P=("$py" "$here/train.py" --bundle "$bundle" --arch "$arch" --epochs "$epochs" --time-budget-s "$budget" ${EXTRA:-})
  "${P[@]}" --rows "none,$rows" --seeds "$seeds" --parallel --out "$work/$arch" >"$work/$arch.log" 2>&1 &
  pids+=($!)
  for defense in $defenses; do
    "${P[@]}" --rows "$rows" --seeds "$first_seed" --parallel --defense "$defense" --out "$work/$arch-$defense" >"$work/$arch-$defense.log" 2>&1 &
    pids+=($!)
  done
done
wait "${pids[@]}"
for log in "$work"/*.log; do echo "== $(basename "$log")"; grep -v '^epoch' "$log" | tail -n 12; done
tar -czf "$out/gpu-table.tgz" -C "$work" .
