#!/usr/bin/env python3
"""Efficacy check in PyTorch: train a segmentation net from scratch on each published copy
(clean, protected, oracle) of the train split and score it on the clean valid split.

Reads the bundle written by tools/bench-efficacy/torch/export.mjs (no node needed here).
A protected row's train images are clip(base + diff, 0, 255), where base is the clean copy
(JPEG) and diff the exact integer difference of the resized protected and clean images, so
rows differ only in the noise.

    python3 tools/bench-efficacy/torch/train.py --bundle out/torch-bundle \
        --rows none,unseg,oracle --seeds 1,2 --seeded-rows none,unseg --epochs 40 \
        --time-budget-s 300 --parallel --out "$OUT"

Writes <out>/<row>-s<seed>.json per run (its latest periodic evaluation, marked partial,
while it trains; the final result when it ends) and <out>/results.json (all runs plus the
table). Everything that is drawn at random (init, shuffling, augmentation) comes
from --seed; cuDNN autotuning is left on (fast, not bit-reproducible; --deterministic turns
it off).
"""
import argparse
import io
import json
import math
import os
import subprocess
import sys
import time
import lzma
import zlib

T_START = time.time()

import numpy as np  # noqa: E402

IGNORE = 255
ARCHS = ['deeplabv3_resnet50', 'deeplabv3_resnet101', 'deeplabv3_mobilenet_v3_large', 'fcn_resnet50',
         'lraspp_mobilenet_v3_large']
DEFENSES = ['none', 'jpeg75', 'gray', 'blur1']
MEAN = (123.675, 116.28, 103.53)  # ImageNet, 0-255 scale (mmsegmentation's data preprocessor)
STD = (58.395, 57.12, 57.375)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--bundle', default='out/torch-bundle')
    p.add_argument('--rows', default='none,unseg,oracle', help='rows of the bundle (index.json "rows")')
    p.add_argument('--seeds', default='1', help='comma-separated seeds')
    p.add_argument('--seeded-rows', default=None,
                   help='rows that run with every seed; the others run with the first seed only (default: all rows)')
    p.add_argument('--epochs', type=int, default=40)
    p.add_argument('--batch', type=int, default=16)
    p.add_argument('--lr', type=float, default=1e-3)
    p.add_argument('--weight-decay', type=float, default=0.01)
    p.add_argument('--warmup-epochs', type=float, default=1.0)
    p.add_argument('--arch', default='deeplabv3_resnet50', choices=ARCHS,
                   help='torchvision segmentation model, from scratch (lraspp_mobilenet_v3_large: light enough for CPU)')
    p.add_argument('--crop', type=int, default=256)
    p.add_argument('--scale-min', type=float, default=0.5)
    p.add_argument('--scale-max', type=float, default=2.0)
    p.add_argument('--no-photometric', action='store_true')
    p.add_argument('--defense', default='none', choices=DEFENSES,
                   help="what a user might do to the train images before training, at the bundle's resolution: "
                        'jpeg75 (re-encoded, quality 75, 4:2:0), gray (luma, back to 3 channels), '
                        'blur1 (Gaussian, sigma 1 px)')
    p.add_argument('--amp', default='auto', choices=['auto', 'bf16', 'none'], help='auto: bf16 on cuda, none on cpu')
    p.add_argument('--device', default='cuda')
    p.add_argument('--time-budget-s', type=float, default=0,
                   help='seconds from process start after which no new epoch starts; the poly schedule is '
                        'shortened to the epochs that fit (0: no limit)')
    p.add_argument('--eval-every', type=int, default=5, help='also score clean valid every n epochs (0: only at the end)')
    p.add_argument('--limit', type=int, default=0, help='first n train images only (smoke tests)')
    p.add_argument('--limit-valid', type=int, default=0, help='first n valid images only (smoke tests)')
    p.add_argument('--threads', type=int, default=0, help='torch CPU threads (0: leave)')
    p.add_argument('--deterministic', action='store_true')
    p.add_argument('--parallel', action='store_true', help='one process per row and seed, all at once')
    p.add_argument('--merge-only', action='store_true',
                   help='only merge the <row>-s<seed>.json already in --out into results.json and print the table')
    p.add_argument('--child', action='store_true', help=argparse.SUPPRESS)
    p.add_argument('--save-train-predictions', action='store_true',
                   help="also write <row>-s<seed>.pred.u8.zlib: the trained net's most likely object class (1..K, background left out) "
                        'of each pixel of each train image (bundle order, NHW uint8)')
    p.add_argument('--out', required=True, help='folder for the JSON results')
    return p.parse_args(argv)


def build_model(arch, classes):
    """A torchvision segmentation net with random weights (no pretrained backbone), output 'out'."""
    import torchvision
    builder = getattr(torchvision.models.segmentation, arch)
    return builder(weights=None, weights_backbone=None, num_classes=classes, aux_loss=False)


def runs_of(args):
    seeds = [int(s) for s in args.seeds.split(',') if s]
    rows = [r for r in args.rows.split(',') if r]
    seeded = set(rows if args.seeded_rows is None else [r for r in args.seeded_rows.split(',') if r])
    return [(r, s) for s in seeds for r in rows if r in seeded or s == seeds[0]]


# ---------------------------------------------------------------- bundle

def defend(imgs, defense):
    """The train images (N, H, W, 3) uint8 after a user's pre-processing; valid stays clean."""
    if defense == 'none':
        return imgs
    from PIL import Image
    if defense == 'jpeg75':
        out = np.empty_like(imgs)
        for i, im in enumerate(imgs):
            buf = io.BytesIO()
            Image.fromarray(im).save(buf, format='JPEG', quality=75, subsampling=2)
            out[i] = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert('RGB'))
        return out
    if defense == 'gray':
        # PIL's ITU-R 601-2 luma, as torchvision's rgb_to_grayscale and most loaders.
        return np.stack([np.asarray(Image.fromarray(im).convert('L').convert('RGB')) for im in imgs])
    if defense == 'blur1':
        import torch
        import torch.nn.functional as F
        r = 3  # taps to 3 sigma
        x = torch.arange(-r, r + 1, dtype=torch.float32)
        k = torch.exp(-x * x / 2)
        k = k / k.sum()
        t = torch.from_numpy(imgs).permute(0, 3, 1, 2).float()
        c = t.shape[1]
        t = F.conv2d(F.pad(t, (r, r, 0, 0), mode='reflect'), k.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
        t = F.conv2d(F.pad(t, (0, 0, r, r), mode='reflect'), k.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)
        return t.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()
    raise SystemExit(f'--defense {defense}: one of {", ".join(DEFENSES)}')


def read_packed(file):
    """A bundle blob's bytes: FILE (zlib), or FILE.xz where pack_bundle.py recompressed it to fit a
    device call's 64 MiB."""
    if not os.path.exists(file) and os.path.exists(file + '.xz'):
        with open(file + '.xz', 'rb') as f:
            return lzma.decompress(f.read())
    with open(file, 'rb') as f:
        return zlib.decompress(f.read())


def load_bundle(path, rows, limit=0, limit_valid=0):
    """numpy arrays: {'train': {row: images}, 'train_labels', 'valid', 'valid_labels', 'index'}."""
    from PIL import Image
    with open(os.path.join(path, 'index.json')) as f:
        index = json.load(f)
    size = index['size']

    def base(split, n):
        meta = index['splits'][split]
        with open(os.path.join(path, meta['base']), 'rb') as f:
            blob = f.read()
        off = meta['baseOffsets']
        imgs = np.empty((n, size, size, 3), np.uint8)
        for i in range(n):
            im = Image.open(io.BytesIO(blob[off[i]:off[i + 1]]))
            im = im.convert('RGB')
            imgs[i] = np.asarray(im)
        return imgs

    def labels(split, n):
        raw = read_packed(os.path.join(path, index['splits'][split]['labels']))
        return np.frombuffer(raw, np.uint8).reshape(-1, size, size)[:n].copy()

    n_train = index['splits']['train']['count']
    n_valid = index['splits']['valid']['count']
    if limit:
        n_train = min(n_train, limit)
    if limit_valid:
        n_valid = min(n_valid, limit_valid)
    train_base = base('train', n_train)
    out = {'index': index, 'train': {}, 'train_labels': labels('train', n_train),
           'valid': base('valid', n_valid), 'valid_labels': labels('valid', n_valid)}
    for row in rows:
        meta = index['rows'].get(row)
        if meta is None:
            raise SystemExit(f'row {row!r} is not in the bundle (has {", ".join(index["rows"])})')
        if meta['diff'] is None:
            out['train'][row] = train_base
            continue
        diff = np.frombuffer(read_packed(os.path.join(path, meta['diff'])), np.int8).reshape(-1, 3, size, size)[:n_train]
        diff = diff.transpose(0, 2, 3, 1)  # stored planar (NCHW), images are NHWC
        out['train'][row] = np.clip(train_base.astype(np.int16) + diff, 0, 255).astype(np.uint8)
    return out


# ---------------------------------------------------------------- augmentation (torch, on device)

def rgb_to_hsv(rgb):
    """rgb in [0, 1], (B, 3, H, W) -> h in [0, 1) (full turn), s, v in [0, 1]."""
    import torch
    r, g, b = rgb.unbind(1)
    maxc, _ = rgb.max(1)
    minc, _ = rgb.min(1)
    delta = maxc - minc
    s = torch.where(maxc > 0, delta / maxc.clamp_min(1e-8), torch.zeros_like(maxc))
    dc = delta.clamp_min(1e-8)
    rc, gc, bc = (maxc - r) / dc, (maxc - g) / dc, (maxc - b) / dc
    h = torch.where(maxc == r, bc - gc, torch.where(maxc == g, 2.0 + rc - bc, 4.0 + gc - rc))
    h = torch.where(delta > 0, (h / 6.0) % 1.0, torch.zeros_like(h))
    return torch.stack([h, s, maxc], 1)


def hsv_to_rgb(hsv):
    import torch
    h, s, v = hsv.unbind(1)
    h6 = (h % 1.0) * 6.0
    i = torch.floor(h6)
    f = h6 - i
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    i = i.long() % 6
    r = torch.stack([v, q, p, p, t, v], 1).gather(1, i.unsqueeze(1)).squeeze(1)
    g = torch.stack([t, v, v, q, p, p], 1).gather(1, i.unsqueeze(1)).squeeze(1)
    b = torch.stack([p, p, t, v, v, q], 1).gather(1, i.unsqueeze(1)).squeeze(1)
    return torch.stack([r, g, b], 1)


def photometric(x, gen):
    """mmsegmentation's PhotoMetricDistortion on a batch in 0-255 float, per sample:
    brightness +-32, contrast x[0.5, 1.5] (before or after the HSV steps, at random),
    saturation x[0.5, 1.5], hue +-18 on OpenCV's 0-180 scale; each step with p = 0.5.
    (mmseg rounds to uint8 after every step; here it stays float.)"""
    import torch
    B = x.shape[0]
    dev = x.device

    def u(lo, hi):
        return (torch.rand(B, generator=gen) * (hi - lo) + lo).to(dev).view(B, 1, 1, 1)

    def coin():
        return (torch.rand(B, generator=gen) < 0.5).to(dev).view(B, 1, 1, 1)

    x = torch.where(coin(), (x + u(-32, 32)).clamp(0, 255), x)
    contrast_first = coin()
    c_on, c_alpha = coin(), u(0.5, 1.5)
    x = torch.where(contrast_first & c_on, (x * c_alpha).clamp(0, 255), x)
    hsv = rgb_to_hsv(x / 255.0)
    s_on, s_alpha = coin(), u(0.5, 1.5)
    sat = torch.where(s_on, (hsv[:, 1:2] * s_alpha).clamp(0, 1), hsv[:, 1:2])
    h_on = coin()
    h_delta = (torch.randint(-18, 19, (B,), generator=gen).float() / 180.0).to(dev).view(B, 1, 1, 1)
    hue = torch.where(h_on, (hsv[:, 0:1] + h_delta) % 1.0, hsv[:, 0:1])
    x = hsv_to_rgb(torch.cat([hue, sat, hsv[:, 2:3]], 1)) * 255.0
    x = torch.where(~contrast_first & c_on, (x * c_alpha).clamp(0, 255), x)
    return x


def augment(img_u8, lab_u8, gen, crop, scale_min, scale_max, photo, mean, std):
    """img_u8 (B, H, W, 3) uint8, lab_u8 (B, H, W) uint8, both on the device.
    mmseg's order: random rescale (ratio 0.5-2, bilinear; labels nearest), random crop (the
    whole rescaled image when it is smaller, then padded bottom/right: image 0 after
    normalisation, labels ignored), horizontal flip p = 0.5, photometric distortion,
    normalisation. One grid_sample per batch does rescale + crop + flip."""
    import torch
    import torch.nn.functional as F
    B, H, W, _ = img_u8.shape
    dev = img_u8.device
    x = img_u8.permute(0, 3, 1, 2).float()
    s = torch.rand(B, generator=gen) * (scale_max - scale_min) + scale_min
    sh, sw = H * s, W * s  # rescaled size in pixels
    off_y = torch.floor(torch.rand(B, generator=gen) * (torch.clamp(sh - crop, min=0) + 1))
    off_x = torch.floor(torch.rand(B, generator=gen) * (torch.clamp(sw - crop, min=0) + 1))
    flip = torch.rand(B, generator=gen) < 0.5
    # Output pixel centre u + 0.5 = (g + 1) * crop / 2 for the normalised output coordinate g;
    # source pixel x_src = (off + u + 0.5) / s (flipped: off + crop - (u + 0.5)); normalised by W / 2.
    half_w, half_h = W / 2.0, H / 2.0
    ax = torch.where(flip, -1.0, 1.0) * (crop / 2.0) / (s * half_w)
    bx = (off_x + crop / 2.0) / (s * half_w) - 1.0
    ay = (crop / 2.0) / (s * half_h)
    by = (off_y + crop / 2.0) / (s * half_h) - 1.0
    theta = torch.zeros(B, 2, 3)
    theta[:, 0, 0], theta[:, 0, 2] = ax, bx
    theta[:, 1, 1], theta[:, 1, 2] = ay, by
    grid = F.affine_grid(theta.to(dev), (B, 3, crop, crop), align_corners=False)
    x = F.grid_sample(x, grid, mode='bilinear', padding_mode='border', align_corners=False)
    lab = F.grid_sample((lab_u8.float() + 1).unsqueeze(1), grid, mode='nearest', padding_mode='zeros',
                        align_corners=False).squeeze(1)
    valid = lab > 0
    y = torch.where(valid, lab - 1, torch.full_like(lab, IGNORE)).long()
    if photo:
        x = photometric(x, gen)
    x = (x - mean) / std
    x = x * valid.unsqueeze(1)  # padding: 0 after normalisation
    return x.contiguous(memory_format=torch.channels_last), y


# ---------------------------------------------------------------- evaluation (as lib/metrics.mjs)

def scores(cm):
    """cm[gt, pred]. IoU per class (None when the class is in neither truth nor prediction),
    mIoU = mean over the others (mmseg's nanmean), pixel accuracy over labelled pixels."""
    k = cm.shape[0]
    iou = []
    for c in range(k):
        tp = cm[c, c]
        union = cm[c, :].sum() + cm[:, c].sum() - tp
        iou.append(float(tp / union) if union > 0 else None)
    valid = [v for v in iou if v is not None]
    total = cm.sum()
    return {'miou': float(sum(valid) / len(valid)) if valid else 0.0, 'pixelAcc': float(np.trace(cm) / total) if total else 0.0,
            'iou': iou}


def batched_logits(model, imgs, mean, std, amp_ctx, batch=32):
    """(start index, float logits) for each batch of NHWC uint8 images, the net in eval mode."""
    import torch
    model.eval()
    try:
        with torch.no_grad():
            for i in range(0, imgs.shape[0], batch):
                x = imgs[i:i + batch].permute(0, 3, 1, 2).float()
                x = ((x - mean) / std).contiguous(memory_format=torch.channels_last)
                with amp_ctx():
                    out = model(x)['out']
                yield i, out.float()
    finally:
        model.train()


def evaluate(model, imgs, labels, k, mean, std, amp_ctx, batch=32):
    import torch
    cm = torch.zeros(k * k, dtype=torch.long, device=imgs.device)
    for i, logits in batched_logits(model, imgs, mean, std, amp_ctx, batch):
        pred = logits.argmax(1)
        g = labels[i:i + batch].long()
        m = (g != IGNORE) & (g < k)
        cm += torch.bincount(g[m] * k + pred[m], minlength=k * k)
    return scores(cm.view(k, k).cpu().numpy().astype(np.float64)) | {'confusion': cm.view(k, k).cpu().tolist()}


def write_predictions(path, model, imgs, mean, std, amp_ctx):
    """The net's most likely object class per pixel (background left out: where the pixel is known
    to belong to some object, which one the net would say), NHW uint8 in the bundle's order, zlib'd."""
    import torch
    out = [(logits[:, 1:].argmax(1) + 1).to(torch.uint8).cpu().numpy()
           for _, logits in batched_logits(model, imgs, mean, std, amp_ctx)]
    with open(path, 'wb') as f:
        f.write(zlib.compress(np.concatenate(out).tobytes()))


# ---------------------------------------------------------------- one run

def train_one(args, row, seed, data, log, partial_out=None):
    """One training run; `partial_out` gets the latest periodic evaluation (partial: true) so a
    killed run still leaves a result."""
    import contextlib
    import torch
    import torch.nn.functional as F
    import torchvision

    dev = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(seed)
    np.random.seed(seed)
    if dev.type == 'cuda':
        torch.backends.cudnn.benchmark = not args.deterministic
        torch.backends.cudnn.deterministic = args.deterministic
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    amp = args.amp if args.amp != 'auto' else ('bf16' if dev.type == 'cuda' else 'none')

    def amp_ctx():
        if amp == 'bf16':
            return torch.autocast(device_type=dev.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    index = data['index']
    k = index['classes']
    model = build_model(args.arch, k)
    model = model.to(dev).to(memory_format=torch.channels_last)
    decay, no_decay = [], []
    for n_, p_ in model.named_parameters():
        (no_decay if p_.ndim <= 1 else decay).append(p_)
    opt = torch.optim.AdamW([{'params': decay, 'weight_decay': args.weight_decay},
                             {'params': no_decay, 'weight_decay': 0.0}], lr=args.lr)

    imgs = torch.from_numpy(data['train'][row]).to(dev)
    labs = torch.from_numpy(data['train_labels']).to(dev)
    vimgs = torch.from_numpy(data['valid']).to(dev)
    vlabs = torch.from_numpy(data['valid_labels']).to(dev)
    mean = torch.tensor(MEAN, device=dev).view(1, 3, 1, 1)
    std = torch.tensor(STD, device=dev).view(1, 3, 1, 1)
    n = imgs.shape[0]
    bs = min(args.batch, n)
    steps_per_epoch = n // bs  # drop_last: batch norm never sees a tiny batch
    planned_epochs = args.epochs
    total_steps = planned_epochs * steps_per_epoch
    warmup = max(1, int(args.warmup_epochs * steps_per_epoch))
    gen = torch.Generator().manual_seed(seed)  # CPU generator: shuffling and augmentation draws

    def lr_at(step, total):
        if step < warmup:
            return args.lr * (step + 1) / warmup
        return args.lr * max(0.0, 1 - (step - warmup) / max(1, total - warmup)) ** 0.9

    hist = {'epoch': [], 'loss': [], 'lr': [], 'wall_s': [], 'eval': []}
    t_train = time.time()
    step = 0
    epochs_done = 0
    budget_cut = []  # every change of the planned length by --time-budget-s
    epoch_times = []
    model.train()
    for epoch in range(planned_epochs):
        if args.time_budget_s and epoch_times:
            # Fit the schedule to the budget: the epochs that still fit at the recent pace (the first
            # epoch, with cuDNN autotuning and lazy init, counts only until there are others), never
            # more than --epochs; the poly decay follows the new length, so a cut run still ends annealed.
            recent = epoch_times[1:][-3:] or epoch_times
            per = sum(recent) / len(recent)
            left = args.time_budget_s - (time.time() - T_START)
            fit = max(epochs_done, min(args.epochs, epochs_done + int(left // per)))
            if fit != planned_epochs:
                planned_epochs = fit
                total_steps = planned_epochs * steps_per_epoch
                budget_cut.append({'at_epoch': epochs_done, 'epochs': planned_epochs, 'epoch_s': round(per, 2)})
                log(f'time budget: schedule set to {planned_epochs} epochs ({per:.1f} s/epoch, {left:.0f} s left)')
            if epoch >= planned_epochs:
                break
        t_ep = time.time()
        perm = torch.randperm(n, generator=gen).to(dev)
        loss_sum = torch.zeros((), device=dev)
        for b in range(steps_per_epoch):
            idx = perm[b * bs:(b + 1) * bs]
            x, y = augment(imgs[idx], labs[idx], gen, args.crop, args.scale_min, args.scale_max,
                           not args.no_photometric, mean, std)
            lr = lr_at(step, total_steps)
            for gparam in opt.param_groups:
                gparam['lr'] = lr
            with amp_ctx():
                out = model(x)['out']
            loss = F.cross_entropy(out.float(), y, ignore_index=IGNORE)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum += loss.detach()
            step += 1
        epoch_loss = float(loss_sum) / steps_per_epoch
        epochs_done = epoch + 1
        epoch_times.append(time.time() - t_ep)
        hist['epoch'].append(epochs_done)
        hist['loss'].append(epoch_loss)
        hist['lr'].append(lr)
        hist['wall_s'].append(time.time() - T_START)
        if not math.isfinite(epoch_loss):
            log(f'epoch {epochs_done}: loss is {epoch_loss}, stopping')
            break
        if args.eval_every and epochs_done % args.eval_every == 0 and epochs_done < planned_epochs:
            ev = evaluate(model, vimgs, vlabs, k, mean, std, amp_ctx)
            hist['eval'].append({'epoch': epochs_done, 'miou': ev['miou'], 'pixelAcc': ev['pixelAcc']})
            if partial_out:
                write_json(partial_out, {'row': row, 'seed': seed, 'partial': True, 'epochs': epochs_done,
                                         'plannedEpochs': planned_epochs, 'miou': ev['miou'], 'pixelAcc': ev['pixelAcc'],
                                         'iou': dict(zip(index['classNames'], ev['iou'])), 'history': hist,
                                         'wallS': time.time() - T_START})
            log(f'epoch {epochs_done}: loss {epoch_loss:.4f}, valid mIoU {ev["miou"]:.4f}, '
                f'{epoch_times[-1]:.1f} s/epoch, {time.time() - T_START:.0f} s')
    train_s = time.time() - t_train
    final = evaluate(model, vimgs, vlabs, k, mean, std, amp_ctx)
    on_train = evaluate(model, imgs, labs, k, mean, std, amp_ctx)  # the row's own (protected) train images
    if args.save_train_predictions:
        write_predictions(os.path.join(args.out, f'{row}-s{seed}.pred.u8.zlib'), model, imgs, mean, std, amp_ctx)
    hist['eval'].append({'epoch': epochs_done, 'miou': final['miou'], 'pixelAcc': final['pixelAcc']})
    log(f'done: {epochs_done} epochs ({step} steps) in {train_s:.0f} s; valid mIoU {final["miou"]:.4f}, '
        f'pixel acc {final["pixelAcc"]:.4f}; own train images mIoU {on_train["miou"]:.4f}')
    return {
        'row': row,
        'seed': seed,
        'partial': False,
        'miou': final['miou'],
        'pixelAcc': final['pixelAcc'],
        'iou': dict(zip(index['classNames'], final['iou'])),
        'confusion': final['confusion'],
        'trainSet': {'miou': on_train['miou'], 'pixelAcc': on_train['pixelAcc']},
        'epochs': epochs_done,
        'plannedEpochs': args.epochs,
        'steps': step,
        'budgetCut': budget_cut or None,
        'finalLoss': hist['loss'][-1] if hist['loss'] else None,
        'history': hist,
        'trainS': train_s,
        'wallS': time.time() - T_START,
        'config': {
            'arch': args.arch, 'batch': bs, 'stepsPerEpoch': steps_per_epoch, 'lr': args.lr,
            'optimizer': 'AdamW', 'weightDecay': args.weight_decay, 'schedule': 'linear warmup then poly 0.9',
            'warmupSteps': warmup, 'crop': args.crop, 'scale': [args.scale_min, args.scale_max],
            'photometric': not args.no_photometric, 'defense': args.defense, 'amp': amp, 'device': str(dev),
            'deviceName': torch.cuda.get_device_name(dev) if dev.type == 'cuda' else 'cpu',
            'torch': torch.__version__, 'torchvision': torchvision.__version__,
            'trainImages': n, 'validImages': int(vimgs.shape[0]), 'size': index['size'],
            'timeBudgetS': args.time_budget_s, 'deterministic': args.deterministic,
            'bundleBase': index['base'], 'rowMeta': index['rows'][row],
        },
    }


# ---------------------------------------------------------------- table / driver

def table(results):
    """One line per run; ratio = mIoU / the none row's of the same seed. A run cut off before it
    finished shows its last periodic evaluation, marked * (partial)."""
    clean = {r['seed']: r['miou'] for r in results if r['row'] == 'none'}
    lines = [f'{"row":<10} {"seed":>4} {"mIoU":>7} {"pixacc":>7} {"ratio":>6} {"epochs":>6} {"wall s":>7} {"train-set mIoU":>14}']
    for r in results:
        ratio = r['miou'] / clean[r['seed']] if clean.get(r['seed']) else None
        own = r.get('trainSet', {}).get('miou')
        ep = f'{r["epochs"]}{"*" if r.get("partial") else ""}'
        lines.append(f'{r["row"]:<10} {r["seed"]:>4} {r["miou"]:>7.4f} {r["pixelAcc"]:>7.4f} '
                     f'{(f"{ratio:.3f}" if ratio is not None else "-"):>6} {ep:>6} {r["wallS"]:>7.0f} '
                     f'{(f"{own:.4f}" if own is not None else "-"):>14}')
    return '\n'.join(lines)


def write_json(path, obj):
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(obj, f, indent=1)
    os.replace(tmp, path)


def merge(args, runs):
    results = []
    for row, seed in runs:
        p = os.path.join(args.out, f'{row}-s{seed}.json')
        if os.path.exists(p):
            with open(p) as f:
                results.append(json.load(f))
        else:
            print(f'missing result: {row} seed {seed}', flush=True)
    text = table(results)
    write_json(os.path.join(args.out, 'results.json'), {
        'command': ' '.join(sys.argv), 'args': vars(args), 'table': text.split('\n'), 'runs': results})
    print(text, flush=True)
    return results


def main():
    args = parse_args()
    os.makedirs(args.out, exist_ok=True)
    runs = runs_of(args)
    if args.merge_only:
        merge(args, runs)
        return
    if args.parallel and len(runs) > 1:
        procs = []
        threads = max(1, (os.cpu_count() or 2) // len(runs))
        base = [a for a in sys.argv[1:] if a != '--parallel']
        for row, seed in runs:
            cmd = [sys.executable, os.path.abspath(__file__), *base, '--rows', row, '--seeds', str(seed),
                   '--seeded-rows', row, '--child']
            env = dict(os.environ, OMP_NUM_THREADS=str(threads))
            procs.append(((row, seed), subprocess.Popen(cmd, env=env)))
        failed = []
        for (row, seed), pr in procs:
            if pr.wait() != 0:
                failed.append(f'{row} seed {seed} (exit {pr.returncode})')
        merge(args, runs)
        print(f'all runs: {time.time() - T_START:.0f} s wall', flush=True)
        if failed:
            print('failed: ' + ', '.join(failed), flush=True)
            sys.exit(1)
        return
    rows_needed = sorted({r for r, _ in runs})
    data = load_bundle(args.bundle, rows_needed, args.limit, args.limit_valid)
    data['train'] = {row: defend(imgs, args.defense) for row, imgs in data['train'].items()}
    print(f'bundle loaded in {time.time() - T_START:.1f} s: {len(data["train_labels"])} train, '
          f'{len(data["valid_labels"])} valid images, rows {", ".join(rows_needed)}', flush=True)
    for row, seed in runs:
        tag = f'[{row} s{seed}]'
        out = os.path.join(args.out, f'{row}-s{seed}.json')
        result = train_one(args, row, seed, data, lambda m, tag=tag: print(f'{tag} {m}', flush=True), out)
        write_json(out, result)
    if not args.child:
        merge(args, runs)


if __name__ == '__main__':
    main()
