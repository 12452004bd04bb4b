import path from 'node:path';
import { isDirectory, isFile, listSorted } from '@unseg/core';

export type AnnotationKind = 'instances' | 'panoptic';

/** One annotation file and where its images (and, for panoptic, its PNGs) live. */
export interface SplitSource {
  readonly split: string;
  readonly kind: AnnotationKind;
  readonly layout: 'official' | 'roboflow';
  readonly annotationFile: string;
  readonly imageDir: string;
  /** Panoptic only: the folder of segment-id PNGs. */
  readonly pngDir?: string;
}

const ROBOFLOW_FILE = '_annotations.coco.json';

async function firstDirectory(candidates: readonly string[]): Promise<string> {
  for (const c of candidates) if (await isDirectory(c)) return c;
  // None exists: keep the conventional place so that each missing image is reported under it.
  return candidates[0] as string;
}

/** Every annotation source under `root`, both kinds, in a deterministic order. */
export async function discoverSources(root: string): Promise<SplitSource[]> {
  const found: SplitSource[] = [];
  const annDir = path.join(root, 'annotations');
  for (const name of await listSorted(annDir)) {
    const m = /^(instances|panoptic)_(.+)\.json$/.exec(name);
    if (!m) continue;
    const kind = m[1] as AnnotationKind;
    const split = m[2] as string;
    const annotationFile = path.join(annDir, name);
    if (!(await isFile(annotationFile))) continue;
    // COCO 2017 ships images as <root>/train2017; detectron2 and many mirrors use
    // <root>/images/train2017. Both are accepted.
    const imageDir = await firstDirectory([path.join(root, 'images', split), path.join(root, split)]);
    if (kind === 'instances') {
      found.push({ split, kind, layout: 'official', annotationFile, imageDir });
    } else {
      const pngDir = await firstDirectory([path.join(annDir, `panoptic_${split}`), path.join(root, `panoptic_${split}`)]);
      found.push({ split, kind, layout: 'official', annotationFile, imageDir, pngDir });
    }
  }
  for (const name of await listSorted(root)) {
    const dir = path.join(root, name);
    const annotationFile = path.join(dir, ROBOFLOW_FILE);
    if (await isFile(annotationFile)) {
      found.push({ split: name, kind: 'instances', layout: 'roboflow', annotationFile, imageDir: dir });
    }
  }
  return found;
}

/**
 * The folder that holds the layout: `root` itself or, as a convenience, `root/coco` (the
 * folder name detectron2 and mmdetection expect, and the one the fizyr sample uses).
 */
export async function findCocoRoot(root: string): Promise<string | undefined> {
  const resolved = path.resolve(root);
  if ((await discoverSources(resolved)).length > 0) return resolved;
  const nested = path.join(resolved, 'coco');
  if ((await discoverSources(nested)).length > 0) return nested;
  return undefined;
}
