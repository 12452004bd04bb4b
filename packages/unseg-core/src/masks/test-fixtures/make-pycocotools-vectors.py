"""Regenerates pycocotools-vectors.json: inputs (polygons from coco-facades-test-subset.json plus
hand-picked edge cases and seeded random polygons) and what pycocotools returns for them.
Run with pycocotools 2.0.11 and numpy: python3 make-pycocotools-vectors.py"""
import json, random
import numpy as np
import pycocotools
from pycocotools import mask as M

def poly_case(name, polys, h, w):
    rle = M.merge(M.frPyObjects(polys, h, w))
    return {'name': name, 'height': h, 'width': w, 'polygons': polys, 'counts': rle['counts'].decode(),
            'area': int(M.area(rle)), 'bbox': [float(v) for v in M.toBbox(rle)]}

coco = json.load(open('coco-facades-test-subset.json'))
images = {i['id']: i for i in coco['images']}
facades = []
for a in coco['annotations']:
    im = images[a['image_id']]
    c = poly_case('coco-facades annotation %d' % a['id'], a['segmentation'], im['height'], im['width'])
    facades.append({'id': a['id'], 'counts': c['counts'], 'area': c['area'], 'bbox': c['bbox']})

edge = [
    poly_case('triangle inside, h != w', [[1.2, 1.1, 7.6, 2.3, 3.3, 5.8]], 7, 9),
    poly_case('clipped: negative and beyond width/height', [[-3.7, -2.2, 12.4, 0.5, 11.0, 9.9, -1.5, 8.1]], 7, 9),
    poly_case('small negative fractions (C truncation)', [[-0.1, -0.3, 4.05, -0.25, 4.3, 3.7, -0.45, 3.2]], 6, 6),
    poly_case('repeated consecutive points', [[1.0, 1.0, 1.0, 1.0, 6.0, 1.0, 6.0, 1.0, 6.0, 5.0, 1.0, 5.0]], 8, 8),
    poly_case('repeated point at negative x', [[-2.0, 1.0, -2.0, 1.0, 5.5, 2.0, 4.0, 6.0, -2.0, 6.0]], 8, 8),
    poly_case('coordinates on .5 and integer grid', [[0.5, 0.5, 4.5, 0.5, 4.5, 3.5, 0.5, 3.5]], 6, 6),
    poly_case('integer corners, touching the image edge', [[0, 0, 6, 0, 6, 5, 0, 5]], 5, 6),
    poly_case('whole image and more (starts with 1s)', [[-1, -1, 20, -1, 20, 20, -1, 20]], 4, 5),
    poly_case('self-intersecting bowtie', [[1, 1, 8, 6, 8, 1, 1, 6]], 8, 10),
    poly_case('zero-area sliver', [[1, 2, 7, 2, 4, 2]], 6, 9),
    poly_case('overlapping parts (union)', [[0.5, 0.5, 5.5, 0.5, 5.5, 4.5, 0.5, 4.5], [3.2, 2.2, 8.7, 2.9, 6.1, 6.8]], 8, 10),
    poly_case('disjoint parts', [[0.2, 0.2, 2.8, 0.2, 2.8, 2.8], [5.1, 4.2, 8.9, 4.2, 8.9, 6.9, 5.1, 6.9]], 8, 10),
    poly_case('nested parts', [[0, 0, 9, 0, 9, 9, 0, 9], [2, 2, 5, 2, 5, 5, 2, 5]], 10, 10),
    poly_case('far outside', [[100.3, 100.2, 200.1, 100.2, 150.7, 180.9]], 6, 6),
    poly_case('large coordinates', [[-100000.5, -3.2, 100000.25, 2.7, 5.5, 90000.1]], 12, 11),
    poly_case('steep and flat edges', [[2.01, 0.02, 2.99, 11.97, 2.5, 11.99, 0.03, 6.4, 9.96, 5.6]], 12, 11),
]
rng = random.Random(20240611)
for i in range(60):
    h, w = rng.randint(1, 24), rng.randint(1, 24)
    parts = []
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        n = rng.randint(3, 10)
        parts.append([round(rng.uniform(-4, (w if j % 2 == 0 else h) + 4), rng.choice([0, 1, 2, 3])) for j in range(2 * n)])
    edge.append(poly_case('random %d' % i, parts, h, w))

# Large counts and deltas. rleToString mallocs 6 chars per count, so values needing 7 chars
# (|delta| >= 2^29) overflow its buffer: only a 20000x20000 mask (4e8 < 2^29 pixels) is safe here.
strings = []
big = 20000 * 20000
for counts in [[big], [0, big], [big - 5, 5], [1, big - 2, 1], [300000000, 1, 2, 99999997],
               [2, 3, 390000000, 7, 9999988], [123456789, 200000000, 17654321, 58888889, 0, 0, 0, 1]]:
    assert sum(counts) == big
    r = M.frPyObjects({'size': [20000, 20000], 'counts': counts}, 20000, 20000)
    strings.append({'height': 20000, 'width': 20000, 'counts': counts, 'string': r['counts'].decode()})

json.dump({"generator": "pycocotools 2.0.11 (pip), numpy " + np.__version__,
           "facades": facades, 'polygons': edge, 'strings': strings},
          open('pycocotools-vectors.json', 'w'), separators=(',', ':'))
