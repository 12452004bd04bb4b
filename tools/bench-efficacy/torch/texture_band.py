#!/usr/bin/env python3
"""How much texture the clean train images already hold at the class-wise grating's scale, per class
and colour axis: the background a trainer has to tell a stripe code from.

At the bundle's 256 px the product's 16-px stripes (1024-px images) are 4 px wide, a period of 8 px.
Each clean image is projected on a colour axis (grey (1,1,1) and the three axes whose channels differ:
yellow-blue (1,1,-1), red-cyan (1,-1,-1), magenta-green (1,-1,1), each of unit length), band-passed
around that period (a 3-px box blur minus a 9-px one) and the band's RMS taken over each class's
pixels, in 8-bit steps. A stripe code of amplitude a on an axis stands out from the image by about
a / RMS on that axis.

    /usr/bin/python3 tools/bench-efficacy/torch/texture_band.py --bundle out/torch-bundle-c20
"""
import argparse
import json

import numpy as np
import torch
import torch.nn.functional as F

from train import load_bundle

AXES = {'grey': (1, 1, 1), 'yellow-blue': (1, 1, -1), 'red-cyan': (1, -1, -1), 'magenta-green': (1, -1, 1)}


def box_blur(t, k):
    return F.avg_pool2d(F.pad(t, (k // 2,) * 4, mode='reflect'), k, 1)


def band_rms(images, labels, classes, batch=32):
    """{axis: [RMS of the band over class c's pixels, in 8-bit steps, for c in 0..classes-1]}."""
    sums = {a: np.zeros(classes) for a in AXES}
    counts = np.zeros(classes)
    for lo in range(0, len(images), batch):
        x = torch.from_numpy(images[lo:lo + batch]).float().permute(0, 3, 1, 2)
        y = labels[lo:lo + batch]
        labelled = y < classes  # not the ignore label
        counts += np.bincount(y[labelled], minlength=classes)
        for name, axis in AXES.items():
            v = torch.tensor(axis, dtype=torch.float32).view(1, 3, 1, 1)
            p = (x * v / v.norm()).sum(1, keepdim=True)
            energy = (box_blur(p, 3) - box_blur(p, 9)).pow(2).squeeze(1).numpy()
            sums[name] += np.bincount(y[labelled], weights=energy[labelled], minlength=classes)
    return {a: list(np.sqrt(sums[a] / np.maximum(counts, 1))) for a in AXES}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--bundle', required=True)
    args = p.parse_args()
    b = load_bundle(args.bundle, ['none'])
    names = b['index']['classNames']
    rms = band_rms(b['train']['none'], b['train_labels'], len(names))
    print('| class | ' + ' | '.join(AXES) + ' | grey / mean of the others |')
    print('| --- |' + ' ---: |' * (len(AXES) + 1))
    for c, name in enumerate(names):
        vals = [rms[a][c] for a in AXES]
        print(f'| {name} | ' + ' | '.join(f'{v:.1f}' for v in vals) + f' | {vals[0] / np.mean(vals[1:]):.2f} |')
    print(json.dumps({'classes': names, 'rms': rms}))


if __name__ == '__main__':
    main()
