#!/usr/bin/env bash
# Packs what the throughput benchmark needs on a machine that has no node and no network
# (the lent GPU machine): this machine's node binary, the production node_modules closure
# with the built packages, and the first N images of coco-facades/train with their
# annotations, and 8 SA-1B-layout images for the training-step timing. Everything goes into .device-bundle/ (ignored by git), which the device tool
# carries; run.sh beside this file unpacks it there and runs the benchmark.
#
#   tools/bench-throughput/device/pack.sh [images=64]
set -euo pipefail
repo="$(cd "$(dirname "$0")/../../.." && pwd)"
cd "$repo"
images="${1:-64}"
data="${UNSEG_DATA:-$repo/../shared/data/coco-facades}"
sa1b="${UNSEG_SA1B:-$repo/../shared/data/sa1b-facades}"
out=.device-bundle
[ -f packages/unseg-cli/dist/bin.js ] || { echo "pack.sh: build first (npm run build)" >&2; exit 1; }
rm -rf "$out" && mkdir -p "$out/data/train" "$out/sa1b/sa_000000"
for i in 1 2 3 4 5 6 7 8; do cp "$sa1b/sa_000000/sa_$i.jpg" "$sa1b/sa_000000/sa_$i.json" "$out/sa1b/sa_000000/"; done
grep -qx '/.device-bundle/' .git/info/exclude 2>/dev/null || { mkdir -p .git/info; echo '/.device-bundle/' >> .git/info/exclude; }

# node: the same binary that measured the local tables, so the two machines differ in
# hardware only.
xz -T0 -9 -c "$(command -v node)" > "$out/node.xz"

# The production dependency closure (npm's own resolution), without what node never loads
# here: source maps, type declarations, TypeScript sources and the browser bundles.
npm ls --omit=dev --all --parseable 2>/dev/null | sed "s#^$repo/##" | grep '^node_modules/' | grep -v '^node_modules/@unseg/' > "$out/modules.txt"
tar -cf - --exclude='*.map' --exclude='*.d.ts' --exclude='*.ts' --exclude='*.min.js' --exclude='*es2017*' \
  --exclude='miniprogram' -T "$out/modules.txt" node_modules/@unseg packages/*/dist | xz -T0 -9 > "$out/modules.tar.xz"

# The first N train images (JSON order) and their annotations.
node -e '
const fs = require("fs"), path = require("path");
const [data, out, n] = process.argv.slice(1);
const j = JSON.parse(fs.readFileSync(path.join(data, "train/_annotations.coco.json"), "utf8"));
const images = j.images.slice(0, Number(n));
const ids = new Set(images.map((i) => i.id));
for (const i of images) fs.copyFileSync(path.join(data, "train", i.file_name), path.join(out, "data/train", i.file_name));
fs.writeFileSync(path.join(out, "data/train/_annotations.coco.json"),
  JSON.stringify({ ...j, images, annotations: j.annotations.filter((a) => ids.has(a.image_id)) }));
' "$data" "$out" "$images"
du -sh "$out"/* | sed 's/^/pack.sh: /'
