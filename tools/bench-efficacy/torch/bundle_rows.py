"""What the scripts that add simulated rows to a bundle share: reading its train split, starting
the new bundle as a copy of it, turning noise added at an image's own size into a bundle diff, and
writing one row's diffs into it (the bundle layout is export.mjs's; see its index.json "layout")."""
import json
import os
import shutil
import zlib

import numpy as np
from PIL import Image

# The COCO split folder the benchmark's bundles are exported from (export.mjs's default dataset).
TRAIN_SPLIT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..', 'shared', 'data', 'coco-facades', 'train'))


def add_data_option(parser):
    """--data: the COCO split folder whose images the bundle's train split was made from."""
    parser.add_argument('--data', default=TRAIN_SPLIT, help='the COCO split folder the bundle was made from')


def open_train_split(bundle, data):
    """The bundle's index, its train split's ids and 256-px labels (N, size, size), and the COCO
    file name of each id in `data` (the split folder the bundle was made from)."""
    with open(os.path.join(bundle, 'index.json')) as f:
        index = json.load(f)
    size = index['size']
    train = index['splits']['train']
    with open(os.path.join(bundle, train['labels']), 'rb') as f:
        labels = np.frombuffer(zlib.decompress(f.read()), np.uint8).reshape(train['count'], size, size)
    with open(os.path.join(data, '_annotations.coco.json')) as f:
        files = {str(im['id']): im['file_name'] for im in json.load(f)['images']}
    return index, train['ids'], labels, files


def start_bundle(bundle, out):
    """Copies the source bundle's files (all but its index, which the caller rewrites) into out."""
    os.makedirs(out, exist_ok=True)
    for name in os.listdir(bundle):
        if name != 'index.json' and not os.path.exists(os.path.join(out, name)):
            shutil.copyfile(os.path.join(bundle, name), os.path.join(out, name))


def nearest_grid(size, h, w):
    """Row and column indices that enlarge a bundle-size (size x size) map to h x w by nearest neighbour."""
    return (np.arange(h) * size // h)[:, None], (np.arange(w) * size // w)[None, :]


def at_bundle_size(img, size):
    """An 8-bit HWC image resized to the bundle's size as the export does (lanczos), as int16."""
    return np.asarray(Image.fromarray(img).resize((size, size), Image.LANCZOS), np.int16)


def bundle_diff(img, steps, clean, size):
    """The bundle diff (int8 CHW) of adding whole 8-bit `steps` (HWC) to img at its own size:
    protected and clean (at_bundle_size of img) compared at the bundle's size."""
    prot = np.clip(img.astype(np.int16) + steps, 0, 255).astype(np.uint8)
    return np.clip(at_bundle_size(prot, size) - clean, -128, 127).astype(np.int8).transpose(2, 0, 1)


def write_row(out, index, name, diffs, meta):
    """Writes one row's int8 diffs (N, 3, size, size) and records it in index (written by finish)."""
    file = f'train-{name}.diff.i8.zlib'
    with open(os.path.join(out, file), 'wb') as f:
        f.write(zlib.compress(diffs.tobytes(), 6))
    index['rows'][name] = {**meta, 'diff': file}


def finish(out, index):
    with open(os.path.join(out, 'index.json'), 'w') as f:
        json.dump(index, f, indent=1)
