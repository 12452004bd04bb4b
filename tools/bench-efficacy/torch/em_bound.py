#!/usr/bin/env python3
"""Upper bound on what any additive noise at the product's budget can do against train.py's
trainer: sample-wise error-minimising noise (the min-min of "Unlearnable Examples", Huang et
al., ICLR 2021) crafted directly against a DeepLabv3-ResNet50 trained from scratch with the
same augmentation (random scale, crop, flip, photometric distortion), at the training
resolution, with the class labels. No generator is given any of this: it knows the labels,
the architecture and the training resolution.

Then a fresh net is trained on the crafted copy by train.py itself (a bundle row "em" next to
the bundle's "none"), and scored on clean valid like any row.

    python3 tools/bench-efficacy/torch/em_bound.py --bundle out/torch-bundle --out "$OUT" \
        --craft-budget-s 220 --final-epochs 40 --final-budget-s 190

With --objective targeted it crafts an adversarial poison instead (Fowl et al., "Adversarial
examples make strong poisons", NeurIPS 2021): the net learns the clean copy first, is frozen, and
every pixel's noise pushes it towards the next class; the same passes, budget and rounding.

Crafting, per round: --model-steps steps of the net on augmented clip(x + noise) (noise fixed),
then one pass over every train image: --noise-steps signed-gradient steps on its noise, each
through a fresh random augmentation, that lower the net's loss; the noise stays within
--eps-fg inside objects (labels > 0, the union of the objects, as the product's prompt) and
--eps-bg outside, in 0-255 units. With --classwise-tile T the noise is one TxT tile per class
(the background included) repeated over every image of it, each noise step a signed step on the
tiles from one batch's gradient: a learned class-wise code, the structure of core's class-wise
grating with the pattern found by the min-min. It stops when the mean loss of a noise pass falls below
--stop-loss or at --craft-budget-s. The crafted images are rounded to integers, as a published
copy would be.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import zlib

T_START = time.time()
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402

import train as T  # noqa: E402


CRAFT_SEED_OFFSET = 10000


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--bundle', default='out/torch-bundle')
    p.add_argument('--out', required=True)
    p.add_argument('--work', default='/tmp/em-bundle', help='folder for the bundle with the crafted row')
    p.add_argument('--device', default='cuda')
    p.add_argument('--seed', type=int, default=1, help='crafting seed (init, batches, augmentation)')
    p.add_argument('--arch', default='deeplabv3_resnet50', choices=T.ARCHS,
                   help='the net the noise is crafted against, and that the final runs train')
    p.add_argument('--threads', type=int, default=0, help='torch CPU threads for crafting (0: leave)')
    p.add_argument('--craft-budget-s', type=float, default=220)
    p.add_argument('--rounds', type=int, default=1000)
    p.add_argument('--model-steps', type=int, default=10)
    p.add_argument('--noise-steps', type=int, default=5)
    p.add_argument('--alpha', type=float, default=0.8,
                   help='noise step, 0-255 units (with --noise-res: the direction step is alpha / eps-fg)')
    p.add_argument('--noise-res', type=int, default=0,
                   help="craft a direction at this resolution, resized up and scaled by the region's budget, as the "
                        "generator's noise is made (0: per pixel at the bundle's resolution)")
    p.add_argument('--classwise-tile', type=int, default=0,
                   help="craft one code per class instead of per image: a TxT tile of directions per class (background "
                        "included), repeated over the image at fixed positions, scaled by the region's budget; every "
                        "image of a class shares it, as the class-wise grating's code is shared (0: sample-wise)")
    p.add_argument('--classwise-cell', type=int, default=1,
                   help='with --classwise-tile: each tile value covers CxC pixels (coarser codes survive the judge\'s rescale)')
    p.add_argument('--classwise-zero-mean', action='store_true',
                   help="with --classwise-tile: each tile's mean is removed per channel, so no class can be coded by a "
                        "flat colour (what the free min-min picks)")
    p.add_argument('--load-codes', default='',
                   help="with --classwise-tile: no crafting, the row is written from the codes a run saved "
                        "(em-classwise-codes.npy, the codes as applied), to judge them again elsewhere")
    p.add_argument('--publish-scale', type=int, default=4,
                   help="with --classwise-tile: the published images' size over the bundle's (coco-facades: 1024 / 256), "
                        "which sets the cell size, in image pixels, of the class-codes file for the pipeline")
    p.add_argument('--row', default='em', help="the crafted row's name in the --work bundle")
    p.add_argument('--eps-fg', type=float, default=8.0, help='0-255 units')
    p.add_argument('--eps-bg', type=float, default=2.0, help='0-255 units')
    p.add_argument('--stop-loss', type=float, default=0.05)
    p.add_argument('--objective', choices=['min', 'targeted'], default='min',
                   help="min: error-minimising noise, the net trained on the noisy copy between noise passes (the "
                        "bound above); targeted: an adversarial poison (Fowl et al., NeurIPS 2021): the net trained "
                        "on the clean copy first (--pretrain-steps) and then frozen, each pixel's noise pushing it "
                        "towards the next class, (label + 1) mod K, background included")
    p.add_argument('--pretrain-steps', type=int, default=500, help='--objective targeted: steps on the clean copy before crafting')
    p.add_argument('--batch', type=int, default=16)
    p.add_argument('--lr', type=float, default=1e-3)
    p.add_argument('--crop', type=int, default=256)
    p.add_argument('--no-photometric', action='store_true', help='craft without the photometric distortion')
    p.add_argument('--limit', type=int, default=0)
    p.add_argument('--limit-valid', type=int, default=0)
    p.add_argument('--final-epochs', type=int, default=40, help='0: craft and write the bundle only')
    p.add_argument('--final-budget-s', type=float, default=0)
    p.add_argument('--final-seeds', default='1')
    p.add_argument('--final-rows', default=None, help='default: none,<--row>')
    p.add_argument('--final-extra', default='', help='more train.py options, space-separated')
    return p.parse_args()


def craft(args, data, log):
    import contextlib
    import torch
    import torch.nn.functional as F

    dev = torch.device(args.device)
    # The crafting net must not start where a judge of the same seed starts (train.py seeds its
    # net with the run's seed and draws nothing before building it): a code optimised along one
    # initialisation's trajectory would be judged on that very trajectory.
    torch.manual_seed(args.seed + CRAFT_SEED_OFFSET)
    gen = torch.Generator().manual_seed(args.seed)
    amp_ctx = (lambda: torch.autocast(device_type='cuda', dtype=torch.bfloat16)) if dev.type == 'cuda' else contextlib.nullcontext
    if dev.type == 'cuda':
        torch.backends.cudnn.benchmark = True
    k = data['index']['classes']
    if args.threads:
        torch.set_num_threads(args.threads)
    model = T.build_model(args.arch, k)
    model = model.to(dev).to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    base = torch.from_numpy(data['train']['none']).to(dev).float()  # (N, H, W, 3), 0-255
    labs = torch.from_numpy(data['train_labels']).to(dev)
    mean = torch.tensor(T.MEAN, device=dev).view(1, 3, 1, 1)
    std = torch.tensor(T.STD, device=dev).view(1, 3, 1, 1)
    fg = (labs > 0) & (labs != T.IGNORE)  # the objects' union, as the product's prompt
    eps = (args.eps_bg + (args.eps_fg - args.eps_bg) * fg.float()).unsqueeze(-1)  # (N, H, W, 1)
    n, H, W = base.shape[:3]
    classwise = args.classwise_tile > 0
    if classwise:
        # A learned class-wise code: the grating's structure (one pattern per class, repeated at fixed
        # image positions) with its pattern found by the min-min against the judge's own net.
        t, cell = args.classwise_tile, args.classwise_cell
        if t % cell:
            raise SystemExit(f'--classwise-tile {t} is not a multiple of --classwise-cell {cell}')
        var = torch.rand((k, 3, t // cell, t // cell), generator=gen).to(dev) * 2 - 1
        zero_mean = args.classwise_zero_mean and not args.load_codes  # saved codes are as applied
        if args.load_codes:
            var = torch.from_numpy(np.load(args.load_codes)).float().to(dev)
            if tuple(var.shape) != (k, 3, t // cell, t // cell):
                raise SystemExit(f'{args.load_codes}: codes of shape {tuple(var.shape)}, expected '
                                 f'{(k, 3, t // cell, t // cell)} for {k} classes, tile {t}, cell {cell}')
        step = args.alpha / args.eps_fg
        reps = (-(-H // t), -(-W // t))
        painted = torch.where(labs == T.IGNORE, torch.zeros_like(labs), labs).long()  # (N, H, W)

        def noise_of(v, idx):
            if zero_mean:
                v = (v - v.mean((2, 3), keepdim=True)).clamp(-1, 1)
            tiled = v.repeat_interleave(cell, 2).repeat_interleave(cell, 3).repeat(1, 1, *reps)[:, :, :H, :W]  # (k, 3, H, W)
            onehot = F.one_hot(painted[idx], k).to(v.dtype)  # (B, H, W, k)
            return torch.einsum('bhwk,kchw->bhwc', onehot, tiled) * eps[idx]

        def clamp_var(v, idx):
            return v.clamp(-1, 1)
    elif args.noise_res and args.noise_res != H:
        # As the generator makes it: a direction in [-1, 1] at a working resolution, resized up
        # (bilinear, half-pixel centres) and scaled by the region's budget.
        R = args.noise_res
        var = torch.rand((n, 3, R, R), generator=gen).to(dev) * 2 - 1
        step = args.alpha / args.eps_fg

        def noise_of(v, idx):
            return F.interpolate(v, size=(H, W), mode='bilinear', align_corners=False).permute(0, 2, 3, 1) * eps[idx]

        def clamp_var(v, idx):
            return v.clamp(-1, 1)
    else:
        var = (torch.rand(base.shape, generator=gen).to(dev) * 2 - 1) * eps
        step = args.alpha

        def noise_of(v, idx):
            return v

        def clamp_var(v, idx):
            return torch.max(torch.min(v, eps[idx]), -eps[idx])
    bs = min(args.batch, n)
    sel = (lambda v, idx: v) if classwise else (lambda v, idx: v[idx])
    photo = not args.no_photometric

    def loss_of(x, idx, labels=labs):
        xa, y = T.augment(x, labels[idx], gen, args.crop, 0.5, 2.0, photo, mean, std)
        with amp_ctx():
            out = model(xa)['out']
        return F.cross_entropy(out.float(), y, ignore_index=T.IGNORE)

    history = []
    stopped = f'codes loaded from {args.load_codes}' if args.load_codes else 'rounds'
    model_steps, target = args.model_steps, labs
    if args.objective == 'targeted':
        # The poison of "Adversarial examples make strong poisons": a net that learned the clean
        # data sees each class's pixels moved towards features of the next class; a net trained on
        # them learns that mapping, which on clean images points the wrong way.
        model.train()
        for step in range(1, args.pretrain_steps + 1):
            idx = torch.randint(0, n, (bs,), generator=gen).to(dev)
            loss = loss_of(base[idx], idx)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if step % 50 == 0 or step == args.pretrain_steps:
                log(f'pretraining on the clean copy: step {step}, loss {loss.item():.4f}, {time.time() - T_START:.0f} s')
        model_steps = 0
        target = torch.where(labs == T.IGNORE, labs, (labs + 1) % k)
    for r in range(0 if args.load_codes else args.rounds):
        t0 = time.time()
        model.train()
        m_loss = 0.0
        for _ in range(model_steps):
            idx = torch.randint(0, n, (bs,), generator=gen).to(dev)
            loss = loss_of((base[idx] + noise_of(sel(var, idx), idx)).clamp(0, 255), idx)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            m_loss += loss.item() / model_steps
        model.eval()
        for p_ in model.parameters():
            p_.requires_grad_(False)
        n_loss, n_count = 0.0, 0
        perm = torch.randperm(n, generator=gen).to(dev)
        for b in range(0, n, bs):
            idx = perm[b:b + bs]
            d = sel(var, idx).clone()
            for _ in range(args.noise_steps):
                d.requires_grad_(True)
                loss = loss_of((base[idx] + noise_of(d, idx)).clamp(0, 255), idx, target)
                (g,) = torch.autograd.grad(loss, d)
                d = clamp_var(d.detach() - step * g.sign(), idx)
                n_loss += loss.item()
                n_count += 1
            if classwise:
                var = d.detach()
            else:
                var[idx] = d.detach()
        for p_ in model.parameters():
            p_.requires_grad_(True)
        n_loss /= max(1, n_count)
        history.append({'round': r + 1, 'modelLoss': m_loss, 'noiseLoss': n_loss, 'seconds': time.time() - t0,
                        'wallS': time.time() - T_START})
        log(f'round {r + 1}: model-step loss {m_loss:.4f}, noise-pass loss {n_loss:.4f}, {time.time() - t0:.1f} s')
        if n_loss < args.stop_loss:
            stopped = f'noise-pass loss {n_loss:.4f} < {args.stop_loss}'
            break
        per = sum(h['seconds'] for h in history[-3:]) / len(history[-3:])
        if time.time() - T_START + per > args.craft_budget_s:
            stopped = f'craft budget {args.craft_budget_s} s'
            break
    def published(b):
        # Integer steps, as a published image has, never past the budget (a budget that is not a
        # whole number of steps rounds down).
        idx = torch.arange(b, min(n, b + bs), device=dev)
        cap = eps[idx].floor()
        step = torch.max(torch.min(noise_of(sel(var, idx), idx).round(), cap), -cap)
        return (base[idx] + step).clamp(0, 255).to(torch.uint8).cpu().numpy()

    with torch.no_grad():
        crafted = np.concatenate([published(b) for b in range(0, n, bs)])
    if classwise and zero_mean:
        var = (var - var.mean((2, 3), keepdim=True)).clamp(-1, 1)  # the code as applied
    return crafted, history, stopped, (var.cpu().numpy() if classwise else None)


def write_bundle(args, data, crafted):
    """A bundle in --work: the original files linked, plus train-<row>.diff.i8.zlib and its row."""
    src = os.path.abspath(args.bundle)
    work = os.path.abspath(args.work)
    if work == src:
        raise SystemExit('--work must not be the --bundle folder')
    # A work folder is made afresh each run (links to the bundle, the crafted row): a stale one
    # would pair another bundle's images with this run's noise.
    marker = os.path.join(work, '.em-bound-work')
    if os.path.isdir(work) and os.listdir(work):
        if not os.path.exists(marker):
            raise SystemExit(f'{work} is not empty and was not made by em_bound.py: choose another --work')
        shutil.rmtree(work)
    os.makedirs(work, exist_ok=True)
    open(marker, 'w').close()
    for f in os.listdir(src):
        if f != 'index.json' and not f.startswith(f'train-{args.row}.'):
            os.symlink(os.path.join(src, f), os.path.join(work, f))
    base = data['train']['none'].astype(np.int16)
    diff = (crafted.astype(np.int16) - base)
    if args.limit:  # the bundle's row must cover every train image: pad with zeros
        full = data['index']['splits']['train']['count']
        diff = np.concatenate([diff, np.zeros((full - diff.shape[0],) + diff.shape[1:], np.int16)])
    assert diff.min() >= -128 and diff.max() <= 127
    planar = np.ascontiguousarray(diff.astype(np.int8).transpose(0, 3, 1, 2))
    with open(os.path.join(args.work, f'train-{args.row}.diff.i8.zlib'), 'wb') as f:
        f.write(zlib.compress(planar.tobytes(), 1))
    index = json.loads(json.dumps(data['index']))
    labs = data['train_labels'][:crafted.shape[0]]
    d = np.abs(diff[:crafted.shape[0]]).mean(-1)
    fg = (labs > 0) & (labs != T.IGNORE)
    stats = {'meanAbsFg': float(d[fg].mean()), 'meanAbsBg': float(d[labs == 0].mean()),
             'maxAbs': int(np.abs(diff).max())}
    index['rows'][args.row] = {'diff': f'train-{args.row}.diff.i8.zlib', 'manifest': None,
                           'note': ('error-minimising' if args.objective == 'min' else 'targeted adversarial (next class)')
                           + (f' class-wise noise ({args.classwise_tile}-px tile per class)' if args.classwise_tile else ' noise')
                           + ' crafted by em_bound.py at the training resolution', 'objective': args.objective, 'stats': stats}
    with open(os.path.join(args.work, 'index.json'), 'w') as f:
        json.dump(index, f)
    return stats


def save_examples(args, data, crafted, path, count=4):
    """clean | crafted | noise x12 + 128, for the first `count` train images, one PNG."""
    from PIL import Image
    base = data['train']['none'][:count].astype(np.int16)
    em = crafted[:count].astype(np.int16)
    rows = [np.concatenate([b, e, np.clip((e - b) * 12 + 128, 0, 255)], 1) for b, e in zip(base, em)]
    Image.fromarray(np.concatenate(rows, 0).astype(np.uint8)).resize((3 * 192, count * 192)).save(path)


def write_class_codes(args, codes, path, index):
    """The codes as the pipeline reads them (`unseg-pipeline run --noise classwise --pattern codes --codes FILE`):
    class 0's tile is the background code, category id l's is code l - 1, cells enlarged from the
    bundle's size to the published images' size. The pipeline assigns codes by category id, the
    bundle numbers the ids that occur 1..K: the file is written only where the two agree."""
    ids = index.get('categoryIds')
    if ids is None:
        print(f'[em] warning: the bundle records no categoryIds (made before 2026-11-28); {path} assumes class i is '
              'category id i, true of coco-facades', flush=True)
    elif ids != list(range(1, len(codes))):
        print(f'[em] not writing {path}: the bundle\'s classes are category ids {ids}, not 1..{len(codes) - 1}, '
              'and the class-codes format assigns codes by id', flush=True)
        return
    doc = {'format': 'unseg-class-codes', 'version': 1, 'cellSize': args.classwise_cell * args.publish_scale,
           'codes': [c.tolist() for c in codes[1:]], 'background': codes[0].tolist(),
           'provenance': {'tool': 'tools/bench-efficacy/torch/em_bound.py', 'command': ' '.join(sys.argv),
                          'note': 'learned class-wise code (min-min against a net trained from scratch with the judge augmentation)'}}
    with open(path, 'w') as f:
        json.dump(doc, f)


def save_codes(codes, path, zoom=4):
    """The learned class codes side by side (class 0, the background, first), directions -1..1 as 0-255."""
    from PIL import Image
    tiles = [np.pad((c.transpose(1, 2, 0) + 1) * 127.5, ((2, 2), (2, 2), (0, 0)), constant_values=255) for c in codes]
    img = np.concatenate(tiles, 1).astype(np.uint8)
    Image.fromarray(img).resize((img.shape[1] * zoom, img.shape[0] * zoom), Image.NEAREST).save(path)


def main():
    args = parse_args()
    if args.load_codes and not args.classwise_tile:
        raise SystemExit('--load-codes needs --classwise-tile and --classwise-cell, the ones the codes were crafted with')
    os.makedirs(args.out, exist_ok=True)
    data = T.load_bundle(args.bundle, ['none'], args.limit, args.limit_valid)
    log = lambda m: print(f'[em] {m}', flush=True)  # noqa: E731
    log(f'bundle loaded in {time.time() - T_START:.1f} s: {len(data["train_labels"])} train images')
    crafted, history, stopped, codes = craft(args, data, log)
    if codes is not None:
        np.save(os.path.join(args.out, 'em-classwise-codes.npy'), codes)
        write_class_codes(args, codes, os.path.join(args.out, 'em-classwise-codes.json'), data['index'])
        save_codes(codes, os.path.join(args.out, 'em-classwise-codes.png'))
    craft_s = time.time() - T_START
    stats = write_bundle(args, data, crafted)
    save_examples(args, data, crafted, os.path.join(args.out, 'em-examples.png'))
    log(f'crafted in {craft_s:.0f} s ({len(history)} rounds, stopped: {stopped}); mean |change| fg {stats["meanAbsFg"]:.2f}, '
        f'bg {stats["meanAbsBg"]:.2f} of 255')
    summary = {'command': ' '.join(sys.argv), 'args': vars(args), 'craftS': craft_s, 'stopped': stopped,
               'rounds': len(history), 'history': history, 'stats': stats}
    T.write_json(os.path.join(args.out, 'em-craft.json'), summary)
    if args.final_epochs == 0:
        return
    final = [sys.executable, os.path.join(HERE, 'train.py'), '--bundle', args.work, '--rows', args.final_rows or f'none,{args.row}',
             '--seeds', args.final_seeds, '--epochs', str(args.final_epochs), '--out', args.out, '--device', args.device,
             '--arch', args.arch,
             '--parallel', *([] if not args.limit else ['--limit', str(args.limit)]),
             *([] if not args.limit_valid else ['--limit-valid', str(args.limit_valid)]),
             *([] if not args.final_budget_s else ['--time-budget-s', str(args.final_budget_s)]),
             *([] if not args.no_photometric else ['--no-photometric']), *args.final_extra.split()]
    log('final training: ' + ' '.join(final))
    sys.exit(subprocess.call(final))


if __name__ == '__main__':
    main()
