#!/usr/bin/env python3
"""What kind of code a bundle row carries: a flat colour per class, or a texture.

A generator left free to rewrite the class-wise grating can turn it into a flat colour offset per
class (learned_code.py's generator did), which a trainer's colour jitter or a grey conversion
erases. This reads each row's published difference from the clean copy and prints, over the
object pixels of every (image, class) with at least --min-pixels of them:

  flat     |mean sign| of each channel's change (1: the whole region moved one way, a flat colour;
           about 0: as many pixels up as down, a texture such as the stripes)
  luma     |change in luminance| / mean |change| per channel (how much of the noise a grey
           conversion keeps: 0.299 R + 0.587 G + 0.114 B of the change)
  agree    where two rows are given, the first is the reference: the fraction of changed object
           pixels and channels whose sign the other rows share with it

    /usr/bin/python3 tools/bench-efficacy/torch/code_structure.py --bundle out/torch-bundle-lgr --rows lgr
"""
import argparse
import json

import numpy as np

from train import load_bundle

LUMA = np.array([0.299, 0.587, 0.114])


def row_structure(diff, labels, classes, min_pixels, reference=None):
    """diff: (n, h, w, 3) signed change; labels: (n, h, w). Pixel-weighted means over (image, class)."""
    flat = luma = weight = agree = changed = 0.0
    for i in range(len(diff)):
        d = diff[i].astype(np.float64)
        for c in np.unique(labels[i]):
            if c < 1 or c >= classes:
                continue
            m = labels[i] == c
            n = int(m.sum())
            if n < min_pixels:
                continue
            region = d[m]
            flat += n * float(np.abs(np.sign(region).mean(0)).mean())
            luma += n * float(np.abs(region @ LUMA).mean() / max(np.abs(region).mean(), 1e-9))
            weight += n
            if reference is not None:
                ref = np.sign(reference[i][m].astype(np.float64))
                both = (ref != 0) & (region != 0)
                agree += float((np.sign(region)[both] == ref[both]).sum())
                changed += float(both.sum())
    out = {'flat': flat / max(weight, 1), 'luma': luma / max(weight, 1)}
    if reference is not None:
        out['agree'] = agree / max(changed, 1)
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--bundle', required=True)
    p.add_argument('--rows', required=True, help='comma-separated; with more than one, the first is the reference for agree')
    p.add_argument('--min-pixels', type=int, default=256)
    p.add_argument('--limit', type=int, default=0, help='only the first n train images')
    args = p.parse_args()
    rows = args.rows.split(',')
    data = load_bundle(args.bundle, ['none'] + rows, limit=args.limit)
    base = data['train']['none'].astype(np.int16)
    classes = data['index']['classes']
    diffs = {r: data['train'][r].astype(np.int16) - base for r in rows}
    reference = diffs[rows[0]] if len(rows) > 1 else None
    result = {}
    print('| row | flat | luma | agree with ' + rows[0] + ' |\n| --- | ---: | ---: | ---: |')
    for r in rows:
        s = row_structure(diffs[r], data['train_labels'], classes, args.min_pixels, reference)
        result[r] = s
        print(f"| {r} | {s['flat']:.3f} | {s['luma']:.3f} | {s.get('agree', float('nan')):.3f} |")
    print(json.dumps(result))


if __name__ == '__main__':
    main()
