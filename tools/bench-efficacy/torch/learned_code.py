#!/usr/bin/env python3
"""A probe, not a noise source: can a *learned* generator write a class code that protects better than
core's hand-made class-wise grating, above all once the trainer turns the images grey?

Every class-agnostic code we measured stopped at 0.58-0.77 of the clean score, and the class-wise
grating (which needs the labels) reached 0.31-0.44, but a grey conversion takes most of it away
(0.62-0.72): its code lives in colour. This script asks whether a generator that is *given* a code per
object and trained to write it robustly does better. It is trained like a learned watermark, which
is the min-min of UnSeg with both players minimising one loss:

  - G(image, prompt, code map) -> noise in [-1, 1] at a working resolution of 256 (a 1024-px image's
    noise is this enlarged 4x), scaled by eps_fg inside the objects and 0 outside;
  - S, a small segmenter trained from scratch, must read each object pixel's code bits back from
    aug(x + noise), where aug is what a trainer does to images (random rescale 0.5-1.5, crop, flip,
    photometric jitter) and what a defender may do (grey, blur, a 2x down-and-up);
  - the codes are drawn at random for every object at every step, so the image alone tells S
    nothing: S cannot solve its task without the noise (FINDINGS' first silent failure cannot occur),
    and G cannot help S with a constant tint (every object needs its own pattern).

Trained on coco-facades/test (the generator's data in issue 5; its class labels are not used: the
codes are random per object). At generation time each class gets a fixed code (a seeded hash of
its id), so every object of a class carries the same texture: a class-wise shortcut, written by a
learned generator. The bundle rows are made as simulate_grating.py makes its rows: the noise at the
image's own size (G's output enlarged bilinearly), quantised to whole 8-bit steps within +-eps_fg*255,
added, and the result resized to the bundle's size (PIL lanczos) and differenced from the clean image.

    /usr/bin/python3 tools/bench-efficacy/torch/learned_code.py --bundle out/torch-bundle-cpu \\
      --out out/torch-bundle-learncode --steps 1500 --row learncode
"""
import argparse
import json
import math
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image, ImageDraw

from bundle_rows import at_bundle_size, bundle_diff, finish, nearest_grid, open_train_split, start_bundle, write_row

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, '..', '..', '..'))
DATA = os.path.join(ROOT, '..', 'shared', 'data', 'coco-facades')


def probe_parser(doc, row, train_data_help):
    """The options every generator probe shares: where its data and bundles are, G's working size,
    the budget, the defenses' probabilities, threads, seed."""
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--bundle', required=True, help='source bundle: its train split is protected with the trained G')
    p.add_argument('--out', required=True, help='new bundle folder (source rows kept, the row added; G and its log too)')
    p.add_argument('--row', default=row)
    p.add_argument('--train-data', default=os.path.join(DATA, 'test'), help=train_data_help)
    p.add_argument('--data', default=os.path.join(DATA, 'train'), help='COCO split the bundle was made from')
    p.add_argument('--size', type=int, default=256, help="G's working resolution (short side)")
    p.add_argument('--batch', type=int, default=8)
    p.add_argument('--eps', type=float, default=8, help='eps_fg in 8-bit steps (training and generation)')
    p.add_argument('--p-grey', type=float, default=0.3)
    p.add_argument('--p-blur', type=float, default=0.3)
    p.add_argument('--p-downup', type=float, default=0.3)
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--seed', type=int, default=1)
    return p


def parse_args():
    p = probe_parser(__doc__, 'learncode', 'COCO split G is trained on (its labels unused)')
    p.add_argument('--crop', type=int, default=128, help="S's crop after the random rescale")
    p.add_argument('--bits', type=int, default=6, help='code length')
    p.add_argument('--steps', type=int, default=1500)
    p.add_argument('--lr', type=float, default=1e-3)
    p.add_argument('--ramp-steps', type=int, default=300, help='the defenses (grey, blur, down-up) ramp in over these steps')
    p.add_argument('--centre', choices=['none', 'regions'], default='none',
                   help="regions: remove the mean of G's pre-tanh output over each object (each class at generation), "
                        'so that no region can carry a flat colour: only texture')
    p.add_argument('--max-minutes', type=float, default=40)
    return p.parse_args()


# ---------------------------------------------------------------- data

def load_split(folder, size):
    """Images at size x size (lanczos) as float [0, 1] CHW, object index maps (0 = none, smaller
    objects painted over larger ones) rasterised from the polygons at the same size, and the class
    maps (category id per pixel, 0 = none) that the same objects paint. `folder` may also be the
    .npz that pack_split wrote (the same arrays, for a machine without ../shared)."""
    if folder.endswith('.npz'):
        packed = np.load(folder)
        if packed['images'].shape[-1] != size:
            raise SystemExit(f'{folder} holds the split at {packed["images"].shape[-1]} px, not --size {size}')
        return (torch.from_numpy(packed['images'].astype(np.float32) / 255),
                torch.from_numpy(packed['objects'].astype(np.int64)), torch.from_numpy(packed['classes'].astype(np.int64)))
    with open(os.path.join(folder, '_annotations.coco.json')) as f:
        coco = json.load(f)
    anns = {}
    for a in coco['annotations']:
        if not a.get('iscrowd') and a.get('segmentation'):
            anns.setdefault(a['image_id'], []).append(a)
    images, objects, classes = [], [], []
    for im in coco['images']:
        rgb = Image.open(os.path.join(folder, im['file_name'])).convert('RGB')
        sx, sy = size / im['width'], size / im['height']
        images.append(np.asarray(rgb.resize((size, size), Image.LANCZOS)).transpose(2, 0, 1))
        canvas = Image.new('I', (size, size), 0)
        draw = ImageDraw.Draw(canvas)
        largest_first = sorted(anns.get(im['id'], []), key=lambda a: -a['area'])
        for k, a in enumerate(largest_first):
            for poly in a['segmentation']:
                if len(poly) >= 6:
                    draw.polygon([(poly[i] * sx, poly[i + 1] * sy) for i in range(0, len(poly), 2)], fill=k + 1)
        objects.append(np.asarray(canvas, np.int64))
        classes.append(np.array([0] + [a['category_id'] for a in largest_first], np.int64)[objects[-1]])
    return torch.from_numpy(np.stack(images).astype(np.float32) / 255), torch.from_numpy(np.stack(objects)), torch.from_numpy(np.stack(classes))


def pack_split(folder, size, file):
    """Writes load_split's arrays for `folder` to `file` (.npz, 8-bit images): a few MiB that can
    travel to a GPU machine where ../shared does not."""
    images, objects, classes = load_split(folder, size)
    np.savez_compressed(file, images=np.round(images.numpy() * 255).astype(np.uint8),
                        objects=objects.numpy().astype(np.uint16), classes=classes.numpy().astype(np.uint16))


def class_code(label, bits):
    """The fixed code of a class id: +-1 bits from a generator seeded by the id."""
    return np.random.default_rng(7919 + int(label)).choice([-1.0, 1.0], bits).astype(np.float32)


# ---------------------------------------------------------------- nets

def block(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(inplace=True),
                         nn.Conv2d(cout, cout, 3, padding=1), nn.ReLU(inplace=True))


class UNet(nn.Module):
    def __init__(self, cin, cout, w=16):
        super().__init__()
        self.e1, self.e2, self.e3 = block(cin, w), block(w, 2 * w), block(2 * w, 4 * w)
        self.d2, self.d1 = block(6 * w, 2 * w), block(3 * w, w)
        self.head = nn.Conv2d(w, cout, 1)

    def forward(self, x):
        a = self.e1(x)
        b = self.e2(F.max_pool2d(a, 2))
        c = self.e3(F.max_pool2d(b, 2))
        b = self.d2(torch.cat([b, F.interpolate(c, size=b.shape[-2:], mode='bilinear', align_corners=False)], 1))
        return self.head(self.d1(torch.cat([a, F.interpolate(b, size=a.shape[-2:], mode='bilinear', align_corners=False)], 1)))


PERIODS = (4, 8, 16)
DIRECTIONS = ((1, 0), (0, 1), (1, 1), (1, -1))
POSITION_CHANNELS = 2 * len(PERIODS) * len(DIRECTIONS)


def position_channels(h, w, device=None):
    """sin and cos of pixel coordinates along four directions at periods of 4, 8 and 16 px (working
    resolution). Without them a convolutional G sees a constant input inside a flat object and can
    only write a constant there: a colour per code, which photometric jitter and grey conversion
    erase. With them it can write stripes and checks, as the hand-made gratings do."""
    y, x = torch.meshgrid(torch.arange(h, dtype=torch.float32, device=device), torch.arange(w, dtype=torch.float32, device=device),
                          indexing='ij')
    out = []
    for period in PERIODS:
        for dx, dy in DIRECTIONS:
            t = (x * dx + y * dy) * (2 * math.pi / period)
            out += [torch.sin(t), torch.cos(t)]
    return torch.stack(out)[None]


def centre_regions(pre, regions):
    """pre minus its mean over each region (regions: (N, H, W) integer ids), per channel."""
    n, c = pre.shape[:2]
    out = []
    for i in range(n):
        ids = regions[i].reshape(-1)
        flat = pre[i].reshape(c, -1)
        k = int(ids.max()) + 1
        sums = torch.zeros(c, k).index_add_(1, ids, flat)
        counts = torch.zeros(k).index_add_(0, ids, torch.ones_like(ids, dtype=torch.float32)).clamp(min=1)
        out.append((flat - (sums / counts)[:, ids]).reshape(pre[i].shape))
    return torch.stack(out)


def generate(G, x, code_map, prompt, regions, centre):
    pre = G(generator_input(x, code_map, prompt))
    return torch.tanh(centre_regions(pre, regions) if centre == 'regions' else pre)


def generator_input(x, code_map, prompt):
    pos = position_channels(*x.shape[-2:], x.device).expand(x.shape[0], -1, -1, -1)
    return torch.cat([x * 2 - 1, prompt, code_map, pos], 1)


# ---------------------------------------------------------------- augmentation (differentiable in x)

def grey(x):
    return (0.299 * x[:, 0:1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3]).expand(-1, 3, -1, -1)


def hue_rotate(x, degrees):
    # rotation of the chroma plane in YIQ
    m = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]], device=x.device)
    yiq = torch.einsum('ij,bjhw->bihw', m, x)
    a = math.radians(degrees)
    i, q = yiq[:, 1] * math.cos(a) - yiq[:, 2] * math.sin(a), yiq[:, 1] * math.sin(a) + yiq[:, 2] * math.cos(a)
    return torch.einsum('ij,bjhw->bihw', torch.linalg.inv(m), torch.stack([yiq[:, 0], i, q], 1))


def gaussian_blur(x, sigma):
    r = max(1, int(math.ceil(2.5 * sigma)))
    t = torch.arange(-r, r + 1, dtype=torch.float32, device=x.device)
    k = torch.exp(-t * t / (2 * sigma * sigma))
    k = k / k.sum()
    x = F.conv2d(F.pad(x, (r, r, 0, 0), mode='reflect'), k.view(1, 1, 1, -1).expand(3, 1, 1, -1), groups=3)
    return F.conv2d(F.pad(x, (0, 0, r, r), mode='reflect'), k.view(1, 1, -1, 1).expand(3, 1, -1, 1), groups=3)


def augment(x, code_map, inside, args, rng, ramp=1.0):
    """What a trainer and a defender do to the published image; code_map and inside follow the geometry."""
    n = x.shape[0]
    s = rng.uniform(0.5, 1.5)
    side = max(args.crop, int(round(x.shape[-1] * s)))
    x = F.interpolate(x, size=(side, side), mode='bilinear', align_corners=False, antialias=side < x.shape[-1])
    code_map = F.interpolate(code_map, size=(side, side), mode='nearest')
    inside = F.interpolate(inside, size=(side, side), mode='nearest')
    xs, cs, ms = [], [], []
    for i in range(n):
        top, left = rng.integers(0, side - args.crop + 1), rng.integers(0, side - args.crop + 1)
        sl = (slice(None), slice(top, top + args.crop), slice(left, left + args.crop))
        a, b, c = x[i][sl], code_map[i][sl], inside[i][sl]
        if rng.random() < 0.5:
            a, b, c = a.flip(-1), b.flip(-1), c.flip(-1)
        xs.append(a), cs.append(b), ms.append(c)
    x, code_map, inside = torch.stack(xs), torch.stack(cs), torch.stack(ms)
    # mmsegmentation's photometric distortion, each part with probability 0.5
    if rng.random() < 0.5:
        x = x + rng.uniform(-32, 32) / 255
    if rng.random() < 0.5:
        x = x * rng.uniform(0.5, 1.5)
    if rng.random() < 0.5:
        g = grey(x)
        x = g + (x - g) * rng.uniform(0.5, 1.5)
    if rng.random() < 0.5:
        x = hue_rotate(x, rng.uniform(-18, 18) * 2)  # mmseg's hue delta 18 is on OpenCV's 0-180 scale
    x = x.clamp(0, 1)
    if rng.random() < args.p_grey * ramp:
        x = grey(x)
    if rng.random() < args.p_blur * ramp:
        x = gaussian_blur(x, rng.uniform(0.5, 1.2))
    if rng.random() < args.p_downup * ramp:
        x = F.interpolate(F.interpolate(x, scale_factor=0.5, mode='bilinear', align_corners=False, antialias=True),
                          size=x.shape[-2:], mode='bilinear', align_corners=False)
    return x, code_map, inside


# ---------------------------------------------------------------- training

def random_codes(objects, bits, gen):
    """A fresh random code for every object of every image: code map (N, bits, H, W), 0 outside."""
    n_obj = int(objects.max()) + 1
    table = torch.randint(0, 2, (objects.shape[0], n_obj, bits), generator=gen).float() * 2 - 1
    table[:, 0] = 0
    code_map = torch.stack([table[i][objects[i]] for i in range(objects.shape[0])]).permute(0, 3, 1, 2)
    return code_map, (objects > 0).float().unsqueeze(1)


def loss_and_accuracy(S, x, code_map, inside):
    logits = S(x * 2 - 1)
    target = (code_map > 0).float()
    w = inside.expand_as(logits)
    loss = (F.binary_cross_entropy_with_logits(logits, target, reduction='none') * w).sum() / w.sum().clamp(min=1)
    acc = (((logits > 0).float() == target).float() * w).sum() / w.sum().clamp(min=1)
    return loss, float(acc)


def train(args, log):
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    images, objects, _ = load_split(args.train_data, args.size)
    log(f'train data: {images.shape[0]} images at {args.size}, {int((objects > 0).float().mean() * 100)} % object pixels')
    G = UNet(3 + 1 + args.bits + POSITION_CHANNELS, 3)
    S = UNet(3, args.bits, w=24)
    opt = torch.optim.Adam(list(G.parameters()) + list(S.parameters()), lr=args.lr)
    eps = args.eps / 255
    t0 = time.time()
    steps_done = 0
    for step in range(1, args.steps + 1):
        idx = torch.from_numpy(rng.choice(images.shape[0], args.batch, replace=False))
        x, obj = images[idx], objects[idx]
        code_map, inside = random_codes(obj, args.bits, gen)
        noise = generate(G, x, code_map, inside, obj, args.centre) * eps * inside
        xa, ca, ma = augment((x + noise).clamp(0, 1), code_map, inside, args, rng, min(1.0, step / args.ramp_steps))
        loss, acc = loss_and_accuracy(S, xa, ca, ma)
        opt.zero_grad()
        loss.backward()
        opt.step()
        rec = {'step': step, 'loss': float(loss), 'bitAccuracy': acc, 'seconds': time.time() - t0}
        if step % 50 == 0 or step == 1:
            # The diagnostic: the same S on random noise of the same budget must be at chance (0.5),
            # and the noise's spatial spread must not collapse to a tint.
            with torch.no_grad():
                rnd = (torch.rand_like(noise) * 2 - 1) * eps * inside
                xr, cr, mr = augment((x + rnd).clamp(0, 1), code_map, inside, args, rng)
                _, racc = loss_and_accuracy(S, xr, cr, mr)
                d = noise / eps
                rec.update(randomNoiseBitAccuracy=racc, noiseSpatialStd=float(d.std(dim=(2, 3)).mean()),
                           noiseAbsMean=float(d.abs().mean()))
            log(json.dumps(rec))
        steps_done = step
        if time.time() - t0 > args.max_minutes * 60:
            log(f'stopping at the {args.max_minutes}-minute limit after {step} steps')
            break
    return G, steps_done


# ---------------------------------------------------------------- bundle row

def working_images(args, index, ids, labels, files):
    """Each train image of the bundle, for a probe to protect: its position, the image at its own
    size, its object pixels there (true label 1..K, from the bundle's labels enlarged), and the
    image (float, HWC) and labels at G's working size."""
    size = index['size']
    for i, sample_id in enumerate(ids):
        img = np.asarray(Image.open(os.path.join(args.data, files[sample_id])).convert('RGB'))
        h, w = img.shape[:2]
        ys, xs = nearest_grid(size, h, w)
        truth = labels[i][ys, xs]
        inside_full = (truth >= 1) & (truth < index['classes'])
        work = np.asarray(Image.fromarray(img).resize((args.size, args.size), Image.LANCZOS), np.float32) / 255
        lw = labels[i] if size == args.size else np.asarray(Image.fromarray(labels[i]).resize((args.size, args.size), Image.NEAREST))
        yield i, img, inside_full, work, lw


def row_diff(d, img, inside_full, eps, size):
    """The bundle diff of G's direction d (1, 3, h, w at the working size): enlarged bilinearly to
    the image, quantised to whole 8-bit steps within +-eps on the object pixels, nothing outside."""
    d = F.interpolate(d, size=img.shape[:2], mode='bilinear', align_corners=False)[0].numpy().transpose(1, 2, 0)
    steps = np.clip(np.floor(d * eps + 0.5), -eps, eps).astype(np.int16) * inside_full[..., None]
    return bundle_diff(img, steps, at_bundle_size(img, size), size)


def protect_train_split(args, G, steps_done, log):
    index, ids, labels, files = open_train_split(args.bundle, args.data)
    size, n = index['size'], len(ids)
    start_bundle(args.bundle, args.out)
    codes = {c: class_code(c, args.bits) for c in range(1, index['classes'])}
    diffs = np.empty((n, 3, size, size), np.int8)
    G.eval()
    for i, img, inside_full, work, lw in working_images(args, index, ids, labels, files):
        # G at its working resolution, on the image and the class codes there
        inside_w = (lw >= 1) & (lw < index['classes'])
        code_map = np.zeros((args.bits, args.size, args.size), np.float32)
        for c, code in codes.items():
            code_map[:, lw == c] = code[:, None]
        with torch.no_grad():
            d = generate(G, torch.from_numpy(work.transpose(2, 0, 1))[None], torch.from_numpy(code_map)[None],
                         torch.from_numpy(inside_w.astype(np.float32))[None, None],
                         torch.from_numpy(np.where(inside_w, lw, 0).astype(np.int64))[None], args.centre)
        diffs[i] = row_diff(d, img, inside_full, args.eps, size)
        if i % 100 == 0:
            log(f'{i}/{n}')
    write_row(args.out, index, args.row, diffs, {
        'simulated': 'tools/bench-efficacy/torch/learned_code.py', 'bits': args.bits, 'workingSize': args.size,
        'steps': args.eps, 'centre': args.centre, 'trainSteps': steps_done})
    finish(args.out, index)


def run_probe(args, train_generator, protect):
    """What a generator probe's main does: train G (logging to <out>/<row>.train-log.jsonl and to
    stdout), save it beside the row, and write the row into the new bundle."""
    torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, f'{args.row}.train-log.jsonl'), 'w') as logf:
        def log(line):
            print(line, flush=True)
            logf.write((line if line.startswith('{') else json.dumps({'note': line})) + '\n')
            logf.flush()

        log(json.dumps({'args': vars(args)}))
        G, steps_done = train_generator(args, log)
        torch.save(G.state_dict(), os.path.join(args.out, f'{args.row}.generator.pt'))
        protect(args, G, steps_done, log)


if __name__ == '__main__':
    run_probe(parse_args(), train, protect_train_split)
