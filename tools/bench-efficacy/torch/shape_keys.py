#!/usr/bin/env python3
"""Class keys for simulate_grating.py made from each object's own mask (its shape, size and place),
and optionally the pixels under it, never from its class.

An experiment for issue #5, after #4 was blocked: the paper's generator can also be prompted one
object at a time, and the pipeline holds every object's mask, so a class-free noise could give each
object a code chosen by what its mask looks like (a window is a small upright rectangle in rows, a
street a wide band at the bottom). This asks how well such a code names the class, and writes the
key so that simulate_grating.py and the LR-ASPP judge can say what it protects.

Per object (COCO polygons of the --data split, drawn at full size and sampled at the bundle's grid,
smaller objects over larger ones as core's paintCategoryLabels does):

  shape        log area share, log width / height, centre x and y, top and bottom y, log width and
               height shares, area / box area, log objects in the image
  appearance   (--features shape+appearance) mean and spread of R, G, B under the mask, two colour
               differences (R - G, (R + G) / 2 - B) and two edge measures

standardised; k-means (Euclidean, best of 4 starts) with k = 10, 20, 40: purity (each cluster
counted as its most common class, weighted by the pixels each object owns in the label map), per
class the share of its pixels in clusters it dominates, and the mapping fitted on even images scored
on odd ones. The key file (N x size x size uint8, zlib, values 1..classes-1, the format of
train.py --save-train-predictions) holds k = classes - 1 clusters, cluster j keyed as class j + 1.

    /usr/bin/python3 tools/bench-efficacy/torch/shape_keys.py --bundle out/torch-bundle-tc10 --out out/shape/shape
"""
import argparse
import json
import os
import zlib

import numpy as np
from PIL import Image, ImageDraw

from bundle_rows import add_data_option, open_train_split

FEATURES = ('shape', 'shape+appearance')


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--bundle', required=True, help='a bundle (its train ids and 256-px labels)')
    p.add_argument('--out', required=True, help='prefix of the key file (PREFIX.pred.u8.zlib) and report (PREFIX.json)')
    add_data_option(p)
    p.add_argument('--features', default='shape', choices=FEATURES, help='what each object is described by (default shape)')
    p.add_argument('--seed', type=int, default=0)
    return p.parse_args()


def objects_of(data, ids):
    """Per bundle image, its annotations largest first (the painting order), and the image records."""
    path = os.path.join(data, '_annotations.coco.json')
    with open(path) as f:
        coco = json.load(f)
    by_image = {}
    for a in coco['annotations']:
        if not isinstance(a.get('segmentation'), list):
            raise SystemExit(f'{path}: annotation {a.get("id")} is not a polygon (RLE masks are not read here)')
        by_image.setdefault(a['image_id'], []).append(a)
    images = {im['id']: im for im in coco['images']}
    return [sorted(by_image.get(int(s), []), key=lambda a: -a['area']) for s in ids], [images[int(s)] for s in ids]


def grid_of(size, h, w):
    """Row and column indices that sample an h x w image at a size x size grid's pixel centres."""
    return ((np.arange(size) * 2 + 1) * h // (2 * size))[:, None], ((np.arange(size) * 2 + 1) * w // (2 * size))[None, :]


def object_map(annotations, first, w, h, size):
    """(size, size) int32: the index (first + i) of the object each grid pixel shows, -1 for none."""
    canvas = Image.new('I', (w, h), -1)
    draw = ImageDraw.Draw(canvas)
    for i, a in enumerate(annotations):
        for poly in a['segmentation']:
            if len(poly) >= 6:
                draw.polygon(list(zip(poly[0::2], poly[1::2])), fill=first + i)
    ys, xs = grid_of(size, h, w)
    return np.asarray(canvas, np.int32)[ys, xs]


def shape_features(a, w, h, count):
    x, y, bw, bh = a['bbox']
    bw, bh = max(bw, 1.0), max(bh, 1.0)
    return [np.log(a['area'] / (w * h) + 1e-6), np.log(bw / bh), (x + bw / 2) / w, (y + bh / 2) / h, y / h,
            (y + bh) / h, np.log(bw / w), np.log(bh / h), a['area'] / (bw * bh), np.log(count)]


def edge_map(rgb):
    """Per grid pixel, the grey level's absolute difference to the next row plus to the next column."""
    grey = rgb.mean(2)
    return np.abs(np.diff(grey, axis=0, append=grey[-1:])) + np.abs(np.diff(grey, axis=1, append=grey[:, -1:]))


def appearance_features(rgb, edges, owner, k):
    """Colour and edge statistics of the grid pixels object k owns (None if it owns none)."""
    where = owner == k
    if not where.any():
        return None
    px = rgb[where]
    return [*px.mean(0), *px.std(0), float((px[:, 0] - px[:, 1]).mean()), float(((px[:, 0] + px[:, 1]) / 2 - px[:, 2]).mean()),
            float(edges[where].mean()), float((edges[where] > 0.1).mean())]


def kmeans(x, k, rng, starts=4, iterations=60):
    best = None
    for _ in range(starts):
        centres = x[rng.choice(len(x), k, replace=False)]
        for _ in range(iterations):
            nearest = ((x[:, None] - centres[None]) ** 2).sum(-1).argmin(1)
            centres = np.stack([x[nearest == j].mean(0) if (nearest == j).any() else centres[j] for j in range(k)])
        cost = float(((x - centres[nearest]) ** 2).sum())
        if best is None or cost < best[0]:
            best = (cost, nearest)
    return best[1]


def main():
    args = parse_args()
    index, ids, labels, files = open_train_split(args.bundle, args.data)
    size, classes = index['size'], index['classes']
    category_to_label = {c: i + 1 for i, c in enumerate(index['categoryIds'])}
    annotations, images = objects_of(args.data, ids)

    feats, label_of, image_of, owners = [], [], [], []
    for n, (anns, im) in enumerate(zip(annotations, images)):
        w, h = im['width'], im['height']
        owner = object_map(anns, len(feats), w, h, size)
        owners.append(owner)
        rgb = None
        if args.features == 'shape+appearance':
            rgb = np.asarray(Image.open(os.path.join(args.data, files[ids[n]])).convert('RGB'), np.float64)[grid_of(size, h, w)] / 255
            edges = edge_map(rgb)
        for i, a in enumerate(anns):
            row = shape_features(a, w, h, len(anns))
            if rgb is not None:
                row += appearance_features(rgb, edges, owner, len(feats)) or [np.nan] * 10
            feats.append(row)
            label_of.append(category_to_label.get(a['category_id'], 0))
            image_of.append(n)
    feats, label_of, image_of = np.array(feats), np.array(label_of), np.array(image_of)
    owners = np.stack(owners)
    # An object hidden under smaller ones owns no pixel, so has no appearance: give it the mean.
    feats = np.where(np.isnan(feats), np.nanmean(feats, 0), feats)
    x = (feats - feats.mean(0)) / (feats.std(0) + 1e-9)
    pixels = np.bincount(owners[owners >= 0], minlength=len(feats)).astype(np.float64)

    object_pixels = (labels >= 1) & (labels < classes)
    painted = np.append(label_of, 0)[owners]
    report = {'bundle': args.bundle, 'data': os.path.relpath(args.data), 'features': args.features, 'objects': int(len(feats)),
              'mapAgreesWithLabels': float((painted[object_pixels] == labels[object_pixels]).mean()),
              'majority': float(np.bincount(label_of, weights=pixels).max() / pixels.sum()), 'kmeans': {}}
    rng = np.random.default_rng(args.seed)
    even, odd = image_of % 2 == 0, image_of % 2 == 1
    for k in sorted({10, 20, 40, classes - 1}):
        cluster = kmeans(x, k, rng)
        table = np.zeros((k, classes))
        np.add.at(table, (cluster, label_of), pixels)
        owner_class = table.argmax(1)
        fitted = np.zeros((k, classes))
        np.add.at(fitted, (cluster[even], label_of[even]), pixels[even])
        report['kmeans'][k] = {
            'purity': float(table.max(1).sum() / table.sum()),
            'heldOut': float((pixels[odd] * (fitted.argmax(1)[cluster[odd]] == label_of[odd])).sum() / pixels[odd].sum()),
            'classShare': {index['classNames'][c]: float(table[owner_class == c, c].sum() / max(1.0, table[:, c].sum()))
                           for c in range(1, classes)},
        }
        if k == classes - 1:
            # A label-map pixel no drawn polygon covers (the bundle's labels were rasterised by
            # another drawer) keeps key 1; mapAgreesWithLabels says how rare that is.
            key = np.where(owners >= 0, np.append(cluster, 0)[owners] + 1, 1).astype(np.uint8)
    print(json.dumps(report, indent=2), flush=True)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(f'{args.out}.pred.u8.zlib', 'wb') as f:
        f.write(zlib.compress(key.tobytes()))
    with open(f'{args.out}.json', 'w') as f:
        json.dump(report, f, indent=2)
    print(f'{args.out}.pred.u8.zlib: clusters of k = {classes - 1} as keys 1..{classes - 1}', flush=True)


if __name__ == '__main__':
    main()
