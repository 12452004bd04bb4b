#!/usr/bin/env python3
"""A probe, not a noise source: can a learned generator improve on core's class-wise grating, the
strongest noise measured so far, above all where the grating is weakest (a grey conversion, which
leaves 5 distinguishable codes for 10 classes, and JPEG, which blurs the oblique stripes)?

learned_code.py let a generator invent a class code from nothing: it found the cheapest one, a flat
colour, which photometric jitter erases. Here the generator starts from the hand-made code and may
only change it:

  - each object carries one of core's 20 grating codes (5 orientations x 4 colours, the stripes
    `--stripe` working pixels wide: 4 at 256 px is core's 16 px on a 1024-px image); in training the
    code of every object is drawn at random at every step, so only the noise tells S which it is;
  - G(image, prompt, carrier, position channels) adds a residual to gain * carrier before the sign:
    the noise is sign(gain * carrier + G(...)), +-1 in every channel (the full budget, as the
    grating), with tanh's gradient passed straight through. G's head starts at zero, so step 0 is
    exactly the hand-made code on the working grid: the control row (`--train-steps 0`);
  - S, a segmenter trained from scratch, sees aug(x + noise): rescale 0.5-1.5, crop, flip,
    mmsegmentation's photometric distortion, then (each with its own probability, ramped in) grey, a
    Gaussian blur, a 2x down-and-up and 4:2:0 chroma subsampling (what JPEG does to colour). G and S
    minimise the same loss. Two surrogate tasks (`--surrogate`):
      semantic (default): S segments the training split's classes, every object carrying its class's
        code as at generation: the min-min of error-minimising noise with the true task, G making the
        class code an easier shortcut for S under the augmentation (the training split's labels are
        used, so G is trained for that split's classes);
      codes: S names each object pixel's code (20-way), the codes drawn at random per object and step,
        so only the noise tells S which it is (a learned watermark, as learned_code.py).
    S first sees the codes louder (`--eps-start`), annealed to the budget over `--ramp-steps`: at
    8/255 from the start, S given codes at random had not begun to read them after 400 steps.
  - `--surrogates K --surrogate-life N`: K surrogates, each re-initialised every N steps (staggered),
    so that G is trained against nets that are still learning the code from scratch, as a trainer of
    the published copy is, instead of against one S that has long since learned it.

Where a grey conversion makes two codes the same (same orientation, different colour), S cannot
tell them apart unless G makes their luminance differ, which the loss rewards; the hand-made code
cannot. At generation each class gets core's code for it (seed 0), and the row is written as
learned_code.py writes its rows (G at 256, its +-1 output enlarged bilinearly to the image's size,
quantised to +-eps_fg steps on the object pixels, nothing outside, then resized to the bundle's size).

    /usr/bin/python3 tools/bench-efficacy/torch/learned_grating.py --bundle out/torch-bundle-c20 \\
      --out out/torch-bundle-lgs --row lgs --eps-start 24 --threads 1 --max-minutes 40   # and --train-steps 0 --row lg0
"""
import argparse
import json
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

from bundle_rows import finish, open_train_split, start_bundle, write_row
from learned_code import (POSITION_CHANNELS, UNet, augment, load_split, pack_split, position_channels, probe_parser, row_diff,
                          run_probe, working_images)

from simulate_grating import product_codes, stripes

CODES = 20  # core's GRATING_CODES: label l has code (l - 1) mod 20


def parse_args():
    p = probe_parser(__doc__, 'lg', 'COCO split G is trained on (its labels are used by --surrogate semantic only)')
    p.add_argument('--g-crop', type=int, default=128, help="G's training crop of the working-size image (a multiple of 16)")
    p.add_argument('--crop', type=int, default=96, help="S's crop after the random rescale")
    p.add_argument('--stripe', type=float, default=4, help='stripe width in working pixels')
    p.add_argument('--gain', type=float, default=1.0, help="the carrier's weight before the sign: G's residual must beat it to flip a pixel")
    p.add_argument('--surrogate', choices=['codes', 'semantic'], default='semantic',
                   help="codes: S names each object's code, drawn at random per step (both players cooperate); "
                        "semantic: S segments the training split's classes, each class carrying its code as at generation, "
                        "and G minimises S's loss (the min-min of error-minimising noise, started from the hand-made code)")
    p.add_argument('--train-steps', type=int, default=100000, help='0: no training, the row is the carrier alone (the control)')
    p.add_argument('--lr', type=float, default=1e-3, help="S's Adam learning rate")
    p.add_argument('--lr-g', type=float, default=1e-3, help="G's Adam learning rate")
    p.add_argument('--g-warmup', type=int, default=300, help='steps in which only S trains')
    p.add_argument('--p-chroma', type=float, default=0.3)
    p.add_argument('--eps-start', type=float, default=24, help='the amplitude S first sees the codes at, annealed to --eps over --ramp-steps')
    p.add_argument('--ramp-steps', type=int, default=400, help='the defenses ramp in, and the amplitude down, over these steps')
    p.add_argument('--max-minutes', type=float, default=33)
    p.add_argument('--device', default='cpu', help="where G and S train (cuda on a GPU machine); the row is written on the CPU")
    p.add_argument('--protect-at', choices=['image', 'bundle'], default='image',
                   help="image: G's noise enlarged to each train image's own size and added there (needs --data, the "
                        "COCO split), as the pipeline publishes; bundle: added to the bundle's clean train images at "
                        "its size (--size must equal it), a shortcut that needs only the bundle, for comparing "
                        "generators on a machine without ../shared")
    start = p.add_mutually_exclusive_group()  # one source of G's weights: as they are, or to train on
    start.add_argument('--load-generator', metavar='PT',
                   help="no training: G's weights from this file (a run's <row>.generator.pt), e.g. to write the row of a G "
                        'trained on a GPU machine through --protect-at image here')
    start.add_argument('--init-generator', metavar='PT',
                   help="G starts from this file's weights (a run's <row>.generator.pt) and trains on, instead of from the hand-made code")
    p.add_argument('--surrogates', type=int, default=1,
                   help='how many surrogates train side by side, each on its own augmentation of the same noise; G minimises their summed loss')
    p.add_argument('--surrogate-life', type=int, default=0,
                   help='re-initialise each surrogate after this many steps (staggered evenly across the population); 0: never. '
                        'G is then trained against nets that are learning the code from scratch, as a trainer of the published copy is')
    p.add_argument('--surrogate-warmup', type=int, default=100,
                   help='with --surrogate-life: a surrogate younger than this trains but does not move G (its gradient is noise)')
    p.add_argument('--pack-train-data', metavar='NPZ',
                   help='only write --train-data at --size to this .npz (what --train-data accepts on a GPU machine) and exit')
    return p.parse_args()


def carrier_table(stripe, h, w):
    """(CODES, 3, h, w): code k's +-1 stripes in its colour, core's own codes (those of labels
    1..CODES, seed 0) drawn as simulate_grating draws them."""
    codes = product_codes(CODES + 1)
    return torch.stack([torch.tensor(colour, dtype=torch.float32)[:, None, None] * torch.from_numpy(stripes(direction, stripe, h, w)).float()[None]
                        for direction, colour in (codes[label] for label in range(1, CODES + 1))])


def codes_of(labels, inside):
    """Each object pixel's grating code (label l has code (l - 1) mod CODES), -1 elsewhere."""
    return torch.where(inside, (labels - 1) % CODES, torch.full_like(labels, -1))


def flip_fraction(d, carrier, inside):
    """The share of object pixels (x channels) whose sign in G's output d differs from the hand-made code's."""
    return float(((torch.sign(d) != torch.sign(carrier)).float() * inside).sum() / (inside.sum() * 3).clamp(min=1))


def carrier_of(codes, table):
    """codes (N, H, W) ints, -1 outside the objects -> carrier (N, 3, H, W), 0 outside."""
    n, h, w = codes.shape
    inside = codes >= 0
    k = codes.clamp(min=0)
    idx = torch.arange(h, device=codes.device)[:, None] * w + torch.arange(w, device=codes.device)[None, :]
    flat = table.reshape(CODES, 3, h * w)
    car = flat[k.reshape(n, -1), :, idx.reshape(-1)[None].expand(n, -1)]  # (N, HW, 3)
    return car.permute(0, 2, 1).reshape(n, 3, h, w) * inside[:, None].float()


def generate(G, x, carrier, inside, gain):
    pos = position_channels(*x.shape[-2:], x.device).expand(x.shape[0], -1, -1, -1)
    pre = gain * carrier + G(torch.cat([x * 2 - 1, inside, carrier, pos], 1))
    soft = torch.tanh(pre)
    return soft + (torch.sign(pre) - soft).detach()


def chroma_420(x):
    """4:2:0 chroma subsampling in YCbCr (JPEG's colour loss), differentiable."""
    m = torch.tensor([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]], device=x.device)
    ycc = torch.einsum('ij,bjhw->bihw', m, x)
    c = F.interpolate(F.avg_pool2d(ycc[:, 1:], 2), size=x.shape[-2:], mode='bilinear', align_corners=False)
    return torch.einsum('ij,bjhw->bihw', torch.linalg.inv(m), torch.cat([ycc[:, :1], c], 1)).clamp(0, 1)


def augmented(x, codes, inside, args, rng, ramp, force=None):
    """learned_code's trainer-and-defender augmentation, plus chroma subsampling; force names one
    defense to apply always (and no other), for the diagnostics."""
    probs = {'grey': args.p_grey, 'blur': args.p_blur, 'downup': args.p_downup} if force is None else \
        {d: float(d == force) for d in ('grey', 'blur', 'downup')}
    a = argparse.Namespace(crop=args.crop, p_grey=probs['grey'], p_blur=probs['blur'], p_downup=probs['downup'])
    xa, ca, ma = augment(x, codes[:, None].float(), inside, a, rng, ramp if force is None else 1.0)
    p_chroma = args.p_chroma * ramp if force is None else float(force == 'chroma')
    if rng.random() < p_chroma:
        xa = chroma_420(xa)
    return xa, ca[:, 0].round().long(), ma


def surrogate_input(x):
    """x and its detail (x minus a 5x5 box blur) amplified 16x: the codes are +-8/255 textures, which
    a from-scratch S given x alone had not begun to read after 400 steps (loss at ln 20)."""
    detail = x - F.avg_pool2d(F.pad(x, (2, 2, 2, 2), mode='replicate'), 5, stride=1)
    return torch.cat([x * 2 - 1, detail * 16], 1)


def code_loss(S, x, codes, inside):
    logits = S(surrogate_input(x))
    w = inside[:, 0]
    ce = F.cross_entropy(logits, codes.clamp(min=0), reduction='none')
    loss = (ce * w).sum() / w.sum().clamp(min=1)
    acc = ((logits.argmax(1) == codes).float() * w).sum() / w.sum().clamp(min=1)
    return loss, float(acc)


def semantic_loss(S, x, classes):
    logits = S(surrogate_input(x))
    loss = F.cross_entropy(logits, classes)
    return loss, float((logits.argmax(1) == classes).float().mean())


def train(args, log):
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    G = UNet(3 + 1 + 3 + POSITION_CHANNELS, 3)
    torch.nn.init.zeros_(G.head.weight)
    torch.nn.init.zeros_(G.head.bias)
    if args.load_generator:
        G.load_state_dict(torch.load(args.load_generator, map_location='cpu'))
        log(f'generator loaded from {args.load_generator}, not trained here')
        return G, None
    if args.init_generator:
        G.load_state_dict(torch.load(args.init_generator, map_location='cpu'))
        log(f'generator initialised from {args.init_generator}')
    if args.train_steps == 0:
        return G, 0
    semantic = args.surrogate == 'semantic'
    dev = torch.device(args.device)
    images, objects, classes = load_split(args.train_data, args.size)
    table = carrier_table(args.stripe, args.size, args.size).to(dev)
    log(f'train data: {images.shape[0]} images at {args.size}; training on {dev}')
    G.to(dev)
    outputs = int(classes.max()) + 1 if semantic else CODES

    def new_surrogate(born):
        S = UNet(6, outputs, w=24).to(dev)
        return {'S': S, 'opt': torch.optim.Adam(S.parameters(), lr=args.lr), 'born': born}

    population = [new_surrogate(1) for _ in range(args.surrogates)]
    life = args.surrogate_life
    opt_g = torch.optim.Adam(G.parameters(), lr=args.lr_g)
    t0 = time.time()
    step = 0
    for step in range(1, args.train_steps + 1):
        for k in range(len(population)):
            # staggered: with K surrogates one is reborn every life / K steps, so G always has an older one
            if life and step > 1 and (step - 1 + k * life // len(population)) % life == 0:
                population[k] = new_surrogate(step)
        idx = torch.from_numpy(rng.choice(images.shape[0], args.batch, replace=False))
        # G trains on a crop (it is fully convolutional); offsets on a 16-px grid keep the position
        # channels' and the stripes' phases those of the whole image.
        top, left = (int(v) * 16 for v in rng.integers(0, (args.size - args.g_crop) // 16 + 1, 2))
        x, obj, cls = (v[idx][..., top:top + args.g_crop, left:left + args.g_crop].to(dev) for v in (images, objects, classes))
        if semantic:
            codes = codes_of(cls, cls > 0)
        else:
            pick = torch.randint(0, CODES, (obj.shape[0], int(obj.max()) + 1), generator=gen).to(dev)
            codes = torch.where(obj > 0, torch.gather(pick, 1, obj.reshape(obj.shape[0], -1)).reshape(obj.shape), torch.full_like(obj, -1))
        # what S must name: the class (semantic) or the code (codes); -1 / 0 outside the objects
        target = cls if semantic else codes
        inside = (obj > 0).float()[:, None]
        carrier = carrier_of(codes, table[..., top:top + args.g_crop, left:left + args.g_crop])
        ramp = min(1.0, step / args.ramp_steps)
        # A curriculum: S first meets the codes loud (eps_start), then at the budget from ramp_steps on.
        eps = (args.eps_start + (args.eps - args.eps_start) * ramp) / 255
        noise = generate(G, x, carrier, inside, args.gain) * eps * inside
        total, moves_g, oldest = 0.0, False, min(population, key=lambda m: m['born'])
        for member in population:
            mature = not life or step - member['born'] >= args.surrogate_warmup
            moves_g |= mature
            xa, ta, ma = augmented((x + (noise if mature else noise.detach())).clamp(0, 1), target, inside, args, rng, ramp)
            l, a = semantic_loss(member['S'], xa, ta) if semantic else code_loss(member['S'], xa, ta, ma)
            total = total + l
            if member is oldest:
                loss, acc = l, a
        for member in population:
            member['opt'].zero_grad()
        opt_g.zero_grad()
        total.backward()
        for member in population:
            member['opt'].step()
        # G waits until S has learned to use the code: moved by an S that reads nothing yet, it
        # changed 20 % of the code's signs in 50 steps and made S's loss higher than the hand code's.
        if step > args.g_warmup and moves_g:
            opt_g.step()
        S = oldest['S']
        if step % 50 == 0 or step == 1:
            # The diagnostic: S's accuracy on G's noise against the hand-made code (the carrier
            # alone) under each defense. G is worth something only where it beats the carrier.
            rec = {'step': step, 'loss': loss.item(), 'accuracy': acc, 'seconds': round(time.time() - t0, 1)}
            if life:
                rec['ages'] = [step - m['born'] for m in population]  # the diagnostics below use the oldest
            with torch.no_grad():
                hand = carrier * eps * inside
                rec['flipped'] = flip_fraction(noise, hand, inside)
                # semantic: S's loss (lower = a stronger shortcut; 'clean' has no noise); codes: its accuracy
                for force in ('none', 'grey', 'blur', 'chroma'):
                    f = None if force == 'none' else force
                    state = rng.bit_generator.state
                    for name, nz in (('clean', torch.zeros_like(noise)), ('hand', hand), ('g', noise)):
                        if name == 'clean' and not semantic:
                            continue
                        rng.bit_generator.state = state  # the same crop, flip and jitter for all
                        xa, ta, ma = augmented((x + nz).clamp(0, 1), target, inside, args, rng, 0.0, f)
                        rec[f'{force}.{name}'] = round(float(semantic_loss(S, xa, ta)[0]) if semantic else code_loss(S, xa, ta, ma)[1], 3)
            log(json.dumps(rec))
        if time.time() - t0 > args.max_minutes * 60:
            log(f'stopping at the {args.max_minutes}-minute limit after {step} steps')
            break
    return G.cpu(), step


def write_grating_row(args, index, diffs, flipped, steps_done, how, log):
    log(f'object pixels (x channels) whose sign differs from the hand-made code: {np.mean(flipped):.3f}')
    write_row(args.out, index, args.row, diffs, {
        'simulated': f'tools/bench-efficacy/torch/learned_grating.py --protect-at {how}', 'workingSize': args.size,
        'stripe': args.stripe, 'gain': args.gain, 'steps': args.eps, 'trainSteps': steps_done,
        'generatorFile': args.load_generator, 'initGenerator': args.init_generator, 'surrogates': args.surrogates,
        'surrogateLife': args.surrogate_life, 'flippedFromHandCode': float(np.mean(flipped))})
    finish(args.out, index)


def protect_train_split(args, G, steps_done, log):
    index, ids, labels, files = open_train_split(args.bundle, args.data)
    size, n = index['size'], len(ids)
    start_bundle(args.bundle, args.out)
    table = carrier_table(args.stripe, args.size, args.size)
    diffs = np.empty((n, 3, size, size), np.int8)
    flipped = []
    G.eval()
    for i, img, inside_full, work, lw in working_images(args, index, ids, labels, files):
        lw = torch.from_numpy(lw.astype(np.int64))
        inside_w = ((lw >= 1) & (lw < index['classes']))
        codes = codes_of(lw, inside_w)[None]
        carrier = carrier_of(codes, table)
        with torch.no_grad():
            d = generate(G, torch.from_numpy(work.transpose(2, 0, 1))[None], carrier, inside_w.float()[None, None], args.gain)
            flipped.append(flip_fraction(d, carrier, inside_w[None, None].float()))
        diffs[i] = row_diff(d, img, inside_full, args.eps, size)
        if i % 100 == 0:
            log(f'{i}/{n}')
    write_grating_row(args, index, diffs, flipped, steps_done, 'image', log)


def protect_at_bundle_size(args, G, steps_done, log):
    """The row made on the bundle's own clean train images at its size: +-eps_fg steps of G's sign
    on the object pixels, nothing outside. Every generator compared this way goes through the same
    path, so the comparison between them is fair, but the trainer then sees noise drawn at its
    own base resolution, which the pipeline's rows (--protect-at image) do not give it."""
    from train import load_bundle
    data = load_bundle(args.bundle, ['none'])
    index, size = data['index'], data['index']['size']
    if size != args.size:
        raise SystemExit(f'--protect-at bundle needs --size {size} (the bundle\'s size), not {args.size}')
    start_bundle(args.bundle, args.out)
    table = carrier_table(args.stripe, size, size)
    base, labels = data['train']['none'], data['train_labels']
    diffs = np.empty((len(base), 3, size, size), np.int8)
    flipped = []
    G.eval()
    for i in range(len(base)):
        lw = torch.from_numpy(labels[i].astype(np.int64))
        inside = (lw >= 1) & (lw < index['classes'])
        carrier = carrier_of(codes_of(lw, inside)[None], table)
        with torch.no_grad():
            d = generate(G, torch.from_numpy(base[i].transpose(2, 0, 1).astype(np.float32) / 255)[None], carrier,
                         inside.float()[None, None], args.gain)
        m = inside[None, None].float()
        flipped.append(flip_fraction(d, carrier, m))
        steps = (torch.sign(d)[0] * args.eps * m[0]).numpy().astype(np.int16)
        img = base[i].transpose(2, 0, 1).astype(np.int16)
        diffs[i] = (np.clip(img + steps, 0, 255) - img).astype(np.int8)
    write_grating_row(args, index, diffs, flipped, steps_done, 'bundle', log)


if __name__ == '__main__':
    cli = parse_args()
    if cli.pack_train_data:
        pack_split(cli.train_data, cli.size, cli.pack_train_data)
    else:
        run_probe(cli, train, protect_at_bundle_size if cli.protect_at == 'bundle' else protect_train_split)
