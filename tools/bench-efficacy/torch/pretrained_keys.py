#!/usr/bin/env python3
"""How well a pretrained network's features name the classes of a bundle's train images, and class
keys from them for simulate_grating.py.

An experiment for issue #4 (a generator that sees the image and the union of the objects, never a
class): the class-wise grating protects, and a generator could only write it without labels by
telling the classes apart itself. Given features from pretrained-features.mjs, this measures on
the object pixels (features L2-normalised, labels sampled at the feature grid's cell centres):

  majority    the share of the most common class (what a key that knows nothing gets right)
  probe       a linear probe fitted on the even-numbered images, scored on the odd ones (what a
              generator trained with labels on top of these features could reach on new images)
  k-means     clusters of the features (k = 10, 20, 40): purity (each cluster counted as its most
              common class) and the same mapping, fitted on even images, scored on odd ones (what a
              generator without labels could reach)

and writes two key files in the bundle's order (N x size x size uint8, zlib, values 1..classes-1,
the format of train.py --save-train-predictions), enlarged from the feature grid by nearest
neighbour: <prefix>-clusters (k-means with k = classes - 1 on every image, cluster j keyed as
class j + 1: label-free) and <prefix>-probe (the probe refitted on every image, in-sample, as the
segmenter's predictions in "Would a generator that recognises classes do better?").

    /usr/bin/python3 tools/bench-efficacy/torch/pretrained_keys.py --bundle out/torch-bundle-tc10 \\
      --features out/pretrained/centernet-relu1.bin --out out/pretrained/centernet-relu1
"""
import argparse
import json
import zlib

import numpy as np

from bundle_rows import add_data_option, open_train_split


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--bundle', required=True, help='a bundle (its train ids and 256-px labels)')
    p.add_argument('--features', required=True, help='pretrained-features.mjs output (FILE.json beside it)')
    p.add_argument('--out', required=True, help='prefix of the two key files and the JSON report')
    add_data_option(p)
    p.add_argument('--seed', type=int, default=0)
    return p.parse_args()


def read_features(path, ids):
    """(N, H*W, C) float32 in the order of ids, L2-normalised per pixel, and (H, W)."""
    with open(path + '.json') as f:
        info = json.load(f)
    h, w, c = info['height'], info['width'], info['channels']
    record = h * w * c * 4 + 4
    raw = np.fromfile(path, np.uint8)
    if raw.size != record * info['images']:
        raise SystemExit(f'{path}: {raw.size} bytes, not {info["images"]} records of {record}')
    at = {int(np.frombuffer(raw[(i + 1) * record - 4:(i + 1) * record].tobytes(), np.uint32)[0]): i
          for i in range(info['images'])}
    missing = [s for s in ids if int(s) not in at]
    if missing:
        raise SystemExit(f'{path}: no features for {len(missing)} train images of the bundle (first id {missing[0]})')
    out = np.empty((len(ids), h * w, c), np.float32)
    for n, s in enumerate(ids):
        i = at[int(s)]
        f = np.frombuffer(raw[i * record:(i + 1) * record - 4].tobytes(), np.float32).reshape(h * w, c)
        out[n] = f / (np.linalg.norm(f, axis=1, keepdims=True) + 1e-6)
    return out, (h, w)


def kmeans(torch, x, k, rng, iterations=40, sample=200000):
    """Spherical k-means on a sample of x's rows; returns the unit centres (k, C)."""
    sub = x[torch.from_numpy(rng.choice(len(x), min(sample, len(x)), replace=False))]
    centres = sub[torch.from_numpy(rng.choice(len(sub), k, replace=False))]
    for _ in range(iterations):
        nearest = (sub @ centres.T).argmax(1)
        centres = torch.stack([sub[nearest == j].mean(0) if (nearest == j).any() else centres[j] for j in range(k)])
        centres = centres / centres.norm(dim=1, keepdim=True)
    return centres


def fit_probe(torch, x, y, classes, seed, steps=400):
    torch.manual_seed(seed)
    probe = torch.nn.Linear(x.shape[1], classes)
    opt = torch.optim.Adam(probe.parameters(), 1e-2)
    for _ in range(steps):
        batch = torch.randint(0, len(x), (8192,))
        loss = torch.nn.functional.cross_entropy(probe(x[batch] * 10), y[batch])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return probe


def main():
    import torch
    args = parse_args()
    index, ids, labels, _ = open_train_split(args.bundle, args.data)
    size, classes = index['size'], index['classes']
    feats, (h, w) = read_features(args.features, ids)
    rows, cols = (np.arange(h) * size // h + size // (2 * h)), (np.arange(w) * size // w + size // (2 * w))
    grid_labels = labels[:, rows][:, :, cols].reshape(len(ids), -1).astype(np.int64)
    image_of = np.repeat(np.arange(len(ids)), h * w).reshape(len(ids), -1)
    inside = (grid_labels >= 1) & (grid_labels < classes)
    x, y, img = torch.from_numpy(feats[inside]), grid_labels[inside], image_of[inside]
    even, odd = img % 2 == 0, img % 2 == 1
    rng = np.random.default_rng(args.seed)
    report = {'features': args.features, 'bundle': args.bundle, 'grid': [h, w], 'objectPixels': int(len(y)),
              'majority': float(np.bincount(y).max() / len(y))}

    probe = fit_probe(torch, x[torch.from_numpy(even)], torch.from_numpy(y[even]), classes, args.seed)
    with torch.no_grad():
        report['probeHeldOut'] = float((probe(x[torch.from_numpy(odd)] * 10).argmax(1).numpy() == y[odd]).mean())
    report['kmeans'] = {}
    for k in (10, 20, 40):
        centres = kmeans(torch, x, k, rng)
        cluster = (x @ centres.T).argmax(1).numpy()
        table = np.zeros((k, classes), np.int64)
        np.add.at(table, (cluster, y), 1)
        fitted = np.zeros((k, classes), np.int64)
        np.add.at(fitted, (cluster[even], y[even]), 1)
        report['kmeans'][k] = {'purity': float(table.max(1).sum() / len(y)),
                               'heldOut': float(np.mean(fitted.argmax(1)[cluster[odd]] == y[odd]))}
    print(json.dumps(report, indent=2), flush=True)

    def enlarge(keys):  # (N, h*w) -> (N, size, size) by nearest neighbour
        grid = keys.reshape(len(ids), h, w)
        return grid[:, (np.arange(size) * h // size)][:, :, (np.arange(size) * w // size)].astype(np.uint8)

    all_feats = torch.from_numpy(feats)
    centres = kmeans(torch, x, classes - 1, rng)
    clusters = np.stack([((all_feats[i] @ centres.T).argmax(1) + 1).numpy() for i in range(len(ids))])
    probe = fit_probe(torch, x, torch.from_numpy(y), classes, args.seed)
    with torch.no_grad():
        named = np.stack([(probe(all_feats[i] * 10)[:, 1:].argmax(1) + 1).numpy() for i in range(len(ids))])
    object_pixels = (labels >= 1) & (labels < classes)
    for name, keys in (('clusters', clusters), ('probe', named)):
        full = enlarge(keys)
        with open(f'{args.out}-{name}.pred.u8.zlib', 'wb') as f:
            f.write(zlib.compress(full.tobytes()))
        report[f'{name}KeyIsTrueClass'] = float((full[object_pixels] == labels[object_pixels]).mean())
        print(f'{args.out}-{name}.pred.u8.zlib: key = true class on {report[name + "KeyIsTrueClass"]:.3f} of object pixels', flush=True)
    with open(f'{args.out}.json', 'w') as f:
        json.dump(report, f, indent=2)


if __name__ == '__main__':
    main()
