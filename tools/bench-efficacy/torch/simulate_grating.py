#!/usr/bin/env python3
"""Bundle rows of a class-wise grating keyed by a given class map, made here instead of by the pipeline.

An experiment, not a noise source: it asks how much of the class-wise grating's protection is left
when the class that picks each pixel's stripe code comes from a net's recognition of the image
(as a generator that knows no labels would have to get it) instead of from the labels. Rows:

  <name>=labels        the code of each object pixel's true class (a control: the same simulation
                       keyed by the truth, to compare with the pipeline's own class-wise grating row)
  <name>=labels~P      the truth, but in each image each class is swapped, with probability P, for
                       another class drawn at random (seeded): errors as often as a recogniser's,
                       but unrelated to what the pixels look like
  <name>=<pred file>   the code of the class in a `train.py --save-train-predictions` file

How: each train image is read at its own size from --data, its class map (true or predicted, both
at the bundle's 256 px) is enlarged to it by nearest neighbour, the class-wise grating of core's
`classwise --pattern grating` (the same orientation and colour per class, fetched from the built
@unseg/core so that the codes are the product's, stripes --stripe px wide) is added at +-8/255 on
every pixel inside the objects (true label 1..K), nothing outside, and the protected and clean
images are resized to the bundle's size (PIL lanczos) and differenced into a bundle diff. The
object pixels and the truth's own labels come from the bundle, so the prompt is exactly the
true union of the objects in every row; only the code's choice of class differs.

    /usr/bin/python3 tools/bench-efficacy/torch/simulate_grating.py --bundle out/torch-bundle-grey \\
      --out out/torch-bundle-predsim --rows cwsim=labels,predsim=out/lraspp-none-pred/none-s1.pred.u8.zlib
"""
import argparse
import json
import os
import subprocess
import zlib

import numpy as np
from PIL import Image

from bundle_rows import add_data_option, at_bundle_size, bundle_diff, finish, nearest_grid, open_train_split, start_bundle, write_row

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, '..', '..', '..'))


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--bundle', required=True, help='source bundle (its base, labels and valid split are reused)')
    p.add_argument('--out', required=True, help='new bundle folder (the source rows are kept, these added)')
    p.add_argument('--rows', required=True, help='name=labels or name=<predictions file>, comma-separated')
    add_data_option(p)
    p.add_argument('--stripe', type=int, default=8, help='stripe width in image pixels (default 8)')
    p.add_argument('--steps', type=int, default=8, help='amplitude in 8-bit steps (eps_fg * 255, default 8)')
    p.add_argument('--codes', default='product', choices=list(CODE_SETS),
                   help="product: core's class-wise grating codes as built (5 orientations x 4 colours since 2026-11-27, 3 x 4 "
                        'before: the cw16sim row was made at 26c28c7); grey6: grey stripes '
                        'in 6 orientations 30 degrees apart, class l getting orientation (l-1) mod 6 (a JPEG-proof variant); '
                        "orient5: coloured stripes in 5 orientations (0, 90, 45, 30, 60 degrees) with core's colours, class l "
                        'getting orientation (l-1) mod 5 and colour (l-1) // 5 (more codes that survive a grey conversion); '
                        'plaid: each class a different pair of the 5 orientations, the first in G, the second in R and B '
                        '(ten codes that a grey conversion keeps apart); chroma: orient5 with only the three '
                        'colours that differ between channels, yellow-blue, red-cyan and magenta-green, in that order (no grey '
                        'stripes); one-grey, one-yellow: one code on every object, whatever '
                        "its class (core's class-agnostic `grating`: 45 degrees), grey or yellow-blue")
    return p.parse_args()


def product_codes(classes):
    """core's class-wise grating code (direction, colour) of labels 1..classes-1, seed 0. Where node
    is not (a GPU machine), UNSEG_GRATING_CODES names a JSON file of them that an earlier call wrote
    here with UNSEG_WRITE_GRATING_CODES set (gpu-learned-grating.sh's header says how)."""
    saved = os.environ.get('UNSEG_GRATING_CODES')
    if saved:
        with open(saved) as f:
            out = f.read()
    else:
        script = ("import('" + os.path.join(ROOT, 'packages/unseg-core/dist/noise/classwise.js') + "').then((m) => {"
                  "const t = {}; for (let l = 1; l < " + str(classes) + "; l++) t[l] = m.gratingCode(0, l);"
                  "console.log(JSON.stringify(t)); })")
        out = subprocess.run(['node', '-e', script], check=True, capture_output=True, text=True).stdout
        if os.environ.get('UNSEG_WRITE_GRATING_CODES'):
            with open(os.environ['UNSEG_WRITE_GRATING_CODES'], 'w') as f:
                f.write(out)
    codes = {int(k): (tuple(v['direction']), tuple(v['colour'])) for k, v in json.loads(out).items() if int(k) < classes}
    if len(codes) != classes - 1:
        raise SystemExit(f'{saved} holds the codes of {len(codes)} labels below {classes}, not {classes - 1}')
    return codes


def grey_codes(classes, orientations=6):
    """Grey stripes only (the same sign in R, G, B), class l at angle ((l-1) mod n) * 180/n degrees."""
    out = {}
    for label in range(1, classes):
        a = np.pi * ((label - 1) % orientations) / orientations
        out[label] = ((float(np.cos(a)), float(np.sin(a))), (1, 1, 1))
    return out


# core's GRATING_COLOURS and class-wise grating orientations, in its order.
ORIENT5_DEGREES = (0, 90, 45, 30, 60)
PRODUCT_COLOURS = [(1, 1, 1), (1, -1, -1), (1, 1, -1), (1, -1, 1)]


def orient5_codes(classes, degrees=ORIENT5_DEGREES):
    """Class l: stripes at degrees[(l-1) mod 5] in colour (l-1) // 5. A horizontal flip turns 30, 45 and
    60 into 150, 135 and 120, which no class uses, so a flipped code is never another class's; turned grey,
    five orientations still tell classes apart where core's three do."""
    out = {}
    for label in range(1, classes):
        a = np.deg2rad(degrees[(label - 1) % len(degrees)])
        out[label] = ((float(np.cos(a)), float(np.sin(a))), PRODUCT_COLOURS[((label - 1) // len(degrees)) % len(PRODUCT_COLOURS)])
    return out


# core's colours less grey (1, 1, 1), strongest in luma first: yellow-blue 0.77, red-cyan 0.40, magenta-green 0.17.
CHROMA_COLOURS = [(1, 1, -1), (1, -1, -1), (1, -1, 1)]


def chroma_codes(classes):
    """orient5's layout (class l: orientation (l-1) mod 5, colour (l-1) // 5) with CHROMA_COLOURS: every
    class's stripes differ between channels. What it tested: at the stripes' scale the clean images hold
    2.7-2.9 times more texture along the grey axis than along the others (texture_band.py), so a grey
    stripe might be the hardest for a trainer to tell from the image. The judge did not bear that out
    (torch README, "Which colour the stripes are")."""
    out = {}
    for label, (direction, _) in orient5_codes(classes).items():
        out[label] = (direction, CHROMA_COLOURS[((label - 1) // len(ORIENT5_DEGREES)) % len(CHROMA_COLOURS)])
    return out


def one_code(classes, colour):
    """The same stripes on every class, at 45 degrees as core's class-agnostic `grating` (seed 0)."""
    direction = (float(np.sqrt(0.5)), float(np.sqrt(0.5)))  # core's [Math.SQRT1_2, Math.SQRT1_2]
    return {label: per_channel((direction, colour)) for label in range(1, classes)}


def plaid_codes(classes, degrees=ORIENT5_DEGREES):
    """Class l: the ((l-1) mod 10)-th pair of two different orientations among the five, stripes of
    the first in the G channel and of the second in R and B. Luma weighs G 0.587 and R + B 0.413, so
    a grey conversion keeps both stripes at comparable strength and, the ten pairs being different,
    ten classes apart, where core's codes keep five orientations (pairs of classes then differ only
    in the stripes' contrast). In colour the two stripes are green and magenta, so the code is a
    different plaid per class there too. The orientations are core's, so a horizontal flip turns a
    pair into itself ({0, 90}) or into one that no class uses, as in core."""
    pairs = [(a, b) for i, a in enumerate(degrees) for b in degrees[i + 1:]]
    out = {}
    for label in range(1, classes):
        a, b = (np.deg2rad(d) for d in pairs[(label - 1) % len(pairs)])
        first, second = (float(np.cos(a)), float(np.sin(a))), (float(np.cos(b)), float(np.sin(b)))
        out[label] = ((second, 1), (first, 1), (second, 1))
    return out


def per_channel(code):
    """A (direction, colour) code as the (direction, sign) of each of R, G and B."""
    direction, colour = code
    return tuple((direction, colour[c]) for c in range(3))


def each_per_channel(codes_of):
    """codes_of (classes -> {label: (direction, colour)}) as a code set of per-channel codes."""
    return lambda classes: {label: per_channel(code) for label, code in codes_of(classes).items()}


# --codes: classes -> {label: ((direction, sign) of R, of G, of B)}.
CODE_SETS = {
    'product': each_per_channel(product_codes),
    'grey6': each_per_channel(grey_codes),
    'orient5': each_per_channel(orient5_codes),
    'plaid': plaid_codes,
    'chroma': each_per_channel(chroma_codes),
    'one-grey': lambda classes: one_code(classes, (1, 1, 1)),
    'one-yellow': lambda classes: one_code(classes, CHROMA_COLOURS[0]),
}


def stripes(direction, width, h, w):
    """+-1 square wave `width` px wide across `direction`, as core's stripeSign (noise/classwise.ts)."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    t = (x + 0.5) * direction[0] + (y + 0.5) * direction[1]
    return np.where(np.floor(t / width).astype(np.int64) & 1, -1, 1).astype(np.int16)


def swapped(labels, p, classes, seed=1):
    """labels with each (image, object class) remapped, with probability p, to another object class."""
    rng = np.random.default_rng(seed)
    out = labels.copy()
    for i in range(labels.shape[0]):
        table = np.arange(256, dtype=np.uint8)
        for c in range(1, classes):
            if rng.random() < p:
                table[c] = rng.choice([k for k in range(1, classes) if k != c])
        out[i] = table[labels[i]]
    return out


def main():
    args = parse_args()
    index, ids, labels, files = open_train_split(args.bundle, args.data)
    size, n = index['size'], len(ids)
    codes = CODE_SETS[args.codes](index['classes'])

    start_bundle(args.bundle, args.out)

    rows = [r.split('=', 1) for r in args.rows.split(',') if r]
    keys = {}
    for name, source in rows:
        if source == 'labels':
            keys[name] = labels
        elif source.startswith('labels~'):
            keys[name] = swapped(labels, float(source[len('labels~'):]), index['classes'])
        else:
            with open(source, 'rb') as f:
                keys[name] = np.frombuffer(zlib.decompress(f.read()), np.uint8).reshape(n, size, size)
    diffs = {name: np.empty((n, 3, size, size), np.int8) for name, _ in rows}
    agree = {name: [0, 0] for name, _ in rows}
    waves, waves_size = {}, None  # each direction's stripes at the current image size
    for i, sample_id in enumerate(ids):
        img = np.asarray(Image.open(os.path.join(args.data, files[sample_id])).convert('RGB'))
        h, w = img.shape[:2]
        if waves_size != (h, w):
            waves, waves_size = {}, (h, w)
        ys, xs = nearest_grid(size, h, w)
        truth = labels[i][ys, xs]
        inside = (truth >= 1) & (truth < index['classes'])
        clean = at_bundle_size(img, size)
        for name, _ in rows:
            key = keys[name][i][ys, xs]
            agree[name][0] += int(((key == truth) & inside).sum())
            agree[name][1] += int(inside.sum())
            noise = np.zeros((h, w, 3), np.int16)
            for label in np.unique(key[inside]):
                where = inside & (key == label)
                for c, (direction, sign) in enumerate(codes[int(label)]):
                    if direction not in waves:
                        waves[direction] = stripes(direction, args.stripe, h, w)
                    noise[..., c][where] = waves[direction][where] * sign * args.steps
            diffs[name][i] = bundle_diff(img, noise, clean, size)
        if i % 50 == 0:
            print(f'{i}/{n}', flush=True)

    for name, source in rows:
        share = agree[name][0] / max(1, agree[name][1])
        write_row(args.out, index, name, diffs[name], {
            'simulated': 'tools/bench-efficacy/torch/simulate_grating.py',
            'key': source, 'codes': args.codes, 'stripe': args.stripe, 'steps': args.steps,
            'keyAgreesWithLabels': share,
        })
        print(f'{name}: key = {source}; object pixels whose key is their true class: {share:.3f}', flush=True)
    finish(args.out, index)


if __name__ == '__main__':
    main()
