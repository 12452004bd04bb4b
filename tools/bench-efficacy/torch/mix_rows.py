#!/usr/bin/env python3
"""A bundle row that is a weighted sum of other rows' diffs: two noises sharing one budget, simulated.

An experiment, not a noise source. The learned class codes protect most on the copy as published and
after JPEG, the class-wise grating most after a grey conversion (torch README). Would a copy carrying
both, each at a share of the budget, keep some of each? The pipeline has no such noise; this sums
the rows' bundle diffs, which is what the pipeline's copy would give up to rounding (each diff is
whole 8-bit steps at the bundle's size, the sum is rounded once) and clamping at 0 and 255 (the
resize is linear, the clamp is not: the sum is clamped against the bundle's clean base here, the
pipeline clamps at the image's own size). With weights that add up to 1 and noises of one budget,
the sum keeps that budget.

    /usr/bin/python3 tools/bench-efficacy/torch/mix_rows.py --bundle out/torch-bundle-tc10 \\
      --from out/torch-bundle-c20 --out out/torch-bundle-mix --row mix55=tc10:0.5,c20:0.5
"""
import argparse
import json
import os

import numpy as np

from bundle_rows import finish, start_bundle, write_row
from train import load_bundle, read_packed


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--bundle', required=True, help='source bundle (its base, labels, valid split and rows are kept)')
    p.add_argument('--from', dest='others', action='append', default=[],
                   help='another bundle of the same train images whose rows may be mixed in (repeatable)')
    p.add_argument('--out', required=True, help='new bundle folder')
    p.add_argument('--row', action='append', required=True, help='name=rowA:weight,rowB:weight (repeatable)')
    return p.parse_args()


def load_index(bundle):
    with open(os.path.join(bundle, 'index.json')) as f:
        return json.load(f)


def read_diff(bundle, index, row):
    size = index['size']
    raw = read_packed(os.path.join(bundle, index['rows'][row]['diff']))
    return np.frombuffer(raw, np.int8).reshape(index['splits']['train']['count'], 3, size, size)


def main():
    args = parse_args()
    index = load_index(args.bundle)
    sources = {row: args.bundle for row in index['rows']}
    for other in args.others:
        other_index = load_index(other)
        if other_index['splits']['train']['ids'] != index['splits']['train']['ids'] or other_index['size'] != index['size']:
            raise SystemExit(f'{other}: not the same train images at the same size as {args.bundle}')
        for row in other_index['rows']:
            sources.setdefault(row, other)
    start_bundle(args.bundle, args.out)
    # The clean row's train images are the bundle's base as train.py decodes it.
    base = load_bundle(args.bundle, ['none'])['train']['none'].transpose(0, 3, 1, 2).astype(np.int16)
    for spec in args.row:
        name, parts = spec.split('=', 1)
        total = np.zeros(base.shape, np.float32)
        mixed = []
        for part in parts.split(','):
            row, weight = part.split(':')
            if row not in sources:
                raise SystemExit(f'row {row}: in none of the bundles ({", ".join(sorted(sources))})')
            total += float(weight) * read_diff(sources[row], load_index(sources[row]), row)
            mixed.append({'row': row, 'weight': float(weight), 'bundle': sources[row]})
        diff = np.clip(base + np.rint(total).astype(np.int16), 0, 255) - base
        write_row(args.out, index, name, diff.astype(np.int8), {'simulated': 'tools/bench-efficacy/torch/mix_rows.py', 'mix': mixed})
        print(f'{name}: mean |diff| {np.abs(diff).mean():.3f}, max {np.abs(diff).max()}', flush=True)
    finish(args.out, index)


if __name__ == '__main__':
    main()
