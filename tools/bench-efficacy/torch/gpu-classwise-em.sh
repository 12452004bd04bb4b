#!/usr/bin/env bash
# One device call: learned class-wise codes (em_bound.py --classwise-tile, one tile of noise per
# class found by the min-min against a net trained from scratch with the judge's augmentation),
# crafted side by side, then judged from scratch beside the clean row and a reference row of the
# bundle (the class-wise grating), on every architecture given, with the grey defense on the
# first seed of the first architecture (GRAY='' for none). Everything lands in one archive in $OUT (the device returns at most 8 files).
#
#   tools/bench-efficacy/torch/gpu-classwise-em.sh BUNDLE REF_ROW CRAFT_S JUDGE_S EPOCHS ARCH:SEEDS[,..] ... -- NAME=EM_OPTIONS ...
#   e.g. ... out/torch-bundle-c20 c20 200 260 30 lraspp_mobilenet_v3_large:1,2 deeplabv3_resnet50:1 -- \
#        'cwa=--arch lraspp_mobilenet_v3_large --classwise-tile 32 --alpha 0.2'
#
# CRAFT_EXTRA adds em_bound.py options and EXTRA train.py options to every process (a CPU smoke
# test: CRAFT_EXTRA='--device cpu --limit 16 --limit-valid 8' EXTRA='--device cpu --limit 16 --limit-valid 8').
set -uo pipefail
bundle="$1" ref="$2" craft="$3" budget="$4" epochs="$5"
shift 5
judges=()
while [[ $# -gt 0 && "$1" != -- ]]; do judges+=("$1"); shift; done
[[ "${1:-}" == -- ]] && shift
[[ ${#judges[@]} -gt 0 && $# -gt 0 ]] || { echo "gpu-classwise-em: need ARCH:SEEDS ... -- NAME=OPTIONS ..." >&2; exit 2; }
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/gpu-setup.sh" gpu-classwise-em
# Whatever happens below, the logs and every finished result come back.
pack() {
  for log in "$work"/*.log; do [[ -e "$log" ]] && { echo "== $(basename "$log")"; grep -v '^epoch\|^\[.*\] epoch' "$log" | tail -n 14; }; done
  tar -czhf "$out/gpu-classwise-em.tgz" -C "$work" --exclude='b-*' --exclude=merged .
}
trap pack EXIT
trap 'exit 143' TERM INT
names=() pids=()
for spec in "$@"; do
  name="${spec%%=*}" opts="${spec#*=}"
  "$py" "$here/em_bound.py" --bundle "$bundle" --out "$work/$name" --work "$work/b-$name" --row "$name" \
    --craft-budget-s "$craft" --final-epochs 0 ${CRAFT_EXTRA:-} $opts >"$work/craft-$name.log" 2>&1 &
  pids+=($!) names+=("$name")
done
failed=0
for i in "${!pids[@]}"; do wait "${pids[$i]}" || { echo "gpu-classwise-em: crafting ${names[$i]} failed (craft-${names[$i]}.log)" >&2; failed=1; }; done
[[ $failed == 0 ]] || exit 1
# One bundle holding the reference rows and every crafted row, so one train.py call judges them all.
"$py" - "$bundle" "$work/merged" "${names[@]}" <<'PY' || exit 1
import json, os, sys
src, dst, names = os.path.abspath(sys.argv[1]), sys.argv[2], sys.argv[3:]
os.makedirs(dst)
index = json.load(open(os.path.join(src, 'index.json')))
for f in os.listdir(src):
    if f != 'index.json':
        os.symlink(os.path.join(src, f), os.path.join(dst, f))
for name in names:
    b = os.path.join(os.path.dirname(dst), 'b-' + name)
    row = json.load(open(os.path.join(b, 'index.json')))['rows'][name]
    os.symlink(os.path.realpath(os.path.join(b, row['diff'])), os.path.join(dst, row['diff']))
    index['rows'][name] = row
json.dump(index, open(os.path.join(dst, 'index.json'), 'w'))
PY
rows="$(IFS=,; echo "${names[*]}")"
pids=()
for spec in "${judges[@]}"; do
  arch="${spec%%:*}" seeds="${spec#*:}"
  P=("$py" "$here/train.py" --bundle "$work/merged" --arch "$arch" --epochs "$epochs" --time-budget-s "$budget" ${EXTRA:-})
  "${P[@]}" --rows "none,$ref,$rows" --seeds "$seeds" --parallel --out "$work/judge-$arch" >"$work/judge-$arch.log" 2>&1 &
  pids+=($!)
  if [[ -n "${GRAY-1}" && "$spec" == "${judges[0]}" ]]; then
    "${P[@]}" --rows "$ref,$rows" --seeds "${seeds%%,*}" --parallel --defense gray --out "$work/judge-$arch-gray" >"$work/judge-$arch-gray.log" 2>&1 &
    pids+=($!)
  fi
done
wait "${pids[@]}"
