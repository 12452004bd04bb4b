#!/usr/bin/env python3
"""Merges what gpu-table.sh returned (its archive unpacked, or any folder of train.py --out
folders) into one JSON and prints a markdown table: per net, row and defense, the mIoU of every
seed and its ratio to the undefended clean run of the same net and seed.

    python3 tools/bench-efficacy/torch/merge_table.py FOLDER OUT.json [--note TEXT]
"""
import argparse
import glob
import json
import os
from collections import defaultdict


def main():
    p = argparse.ArgumentParser()
    p.add_argument('folder')
    p.add_argument('out')
    p.add_argument('--note', default='')
    args = p.parse_args()
    runs = []
    for file in sorted(glob.glob(os.path.join(args.folder, '**', 'results.json'), recursive=True)):
        folder = os.path.relpath(os.path.dirname(file), args.folder)
        with open(file) as f:
            for run in json.load(f)['runs']:
                runs.append({**run, 'folder': folder})
    if not runs:
        raise SystemExit(f'no results.json under {args.folder}')
    clean = {(r['config']['arch'], r['seed']): r['miou'] for r in runs if r['row'] == 'none' and r['config']['defense'] == 'none'}
    groups = defaultdict(list)
    for r in runs:
        groups[(r['config']['arch'], r['row'], r['config']['defense'])].append(r)
    lines = ['| net | row | defense | mIoU (seeds) | ratio to clean, same seed | epochs |', '| --- | --- | --- | --- | --- | --- |']
    table = []
    for (arch, row, defense), rs in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1] != 'none', kv[0][1], kv[0][2] != 'none', kv[0][2])):
        rs.sort(key=lambda r: r['seed'])
        ratios = [r['miou'] / clean[(arch, r['seed'])] if (arch, r['seed']) in clean else None for r in rs]
        table.append({'arch': arch, 'row': row, 'defense': defense, 'seeds': [r['seed'] for r in rs],
                      'miou': [r['miou'] for r in rs], 'ratio': ratios, 'epochs': [r['epochs'] for r in rs]})
        fmt = lambda xs, d: ', '.join('-' if x is None else f'{x:.{d}f}' for x in xs)
        lines.append(f"| {arch} | {row} | {defense} | {fmt([r['miou'] for r in rs], 3)} ({', '.join(str(r['seed']) for r in rs)}) | {fmt(ratios, 2)} | {', '.join(str(r['epochs']) for r in rs)} |")
    device = sorted({r['config'].get('deviceName', r['config'].get('device')) for r in runs})
    with open(args.out, 'w') as f:
        json.dump({'note': args.note, 'device': device, 'table': table, 'runs': runs}, f, indent=1)
    print('\n'.join(lines))
    print(f'{len(runs)} runs on {", ".join(map(str, device))} -> {args.out}')


if __name__ == '__main__':
    main()
