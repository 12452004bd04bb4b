#!/usr/bin/env bash
# On the device machine, from the repository root, with .device-bundle carried (pack.sh):
# unpacks node and the modules, then runs the throughput benchmark with the given options,
# writing its JSON to $OUT (or results/ when OUT is unset).
#
#   tools/bench-throughput/device/run.sh --images 64 --list-times 6 --workers 1,2,4,8,16 --codec-workers 1,2,4,8,16
set -euo pipefail
repo="$(cd "$(dirname "$0")/../../.." && pwd)"
cd "$repo"
bin=/tmp/unseg-node/bin
mkdir -p "$bin"
xz -dc .device-bundle/node.xz > "$bin/node" && chmod +x "$bin/node"
xz -dc .device-bundle/modules.tar.xz | tar -xf -
export PATH="$bin:$PATH"
echo "run.sh: node $(node -v) on $(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
node tools/bench-throughput/run.mjs --data .device-bundle/data --train-data sa1b:.device-bundle/sa1b --out "${OUT:-tools/bench-throughput/results}" "$@"
