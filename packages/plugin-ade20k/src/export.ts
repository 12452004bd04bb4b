import sharp from 'sharp';
import { ConfigError, describeError, rleDecode, rleFromString, type DatasetExportHook, type ExportRow } from '@unseg/core';
import { decodeClassIndexPng } from './label-png.js';

/**
 * `[prefix/]images/<split>/<name>.<ext>` -> the annotation PNG's path beside it in the ADE20K
 * layout. For the published image (whose name may differ from the source's: characters made
 * `_`, a clash given the id) and for the source image (where the original annotation is).
 */
function annotationPath(imagePath: string, row: ExportRow, split: string): string {
  const parts = imagePath.split('/');
  const n = parts.length;
  if (n < 3 || parts[n - 3] !== 'images' || parts[n - 2] !== split) {
    throw new ConfigError(`image ${row.id}: path ${JSON.stringify(imagePath)} is not images/${split}/<name>`);
  }
  const stem = (parts[n - 1] as string).replace(/\.[^.]+$/, '');
  return [...parts.slice(0, n - 3), 'annotations', split, `${stem}.png`].join('/');
}

/** The class-index map rebuilt from the stored masks (one object per class present). */
function labelMap(row: ExportRow): Uint8Array {
  const { width, height } = row;
  const labels = new Uint8Array(width * height);
  for (const o of row.objects) {
    if (!Number.isInteger(o.categoryId) || o.categoryId < 1 || o.categoryId > 255) {
      throw new ConfigError(`image ${row.id}: object ${o.id} has class ${o.categoryId}, not an 8-bit class index`);
    }
    const mask = rleDecode(rleFromString(o.rle, height, width)).data;
    for (let i = 0; i < mask.length; i++) if (mask[i]) labels[i] = o.categoryId;
  }
  return labels;
}

function labelPng(row: ExportRow, labels: Uint8Array): Promise<Buffer> {
  // Without toColourspace('b-w') sharp widens one channel to RGB, which ADE20K readers refuse.
  return sharp(labels, { raw: { width: row.width, height: row.height, channels: 1 } }).toColourspace('b-w').png().toBuffer();
}

/**
 * Why the original annotation PNG no longer holds the classes the shards were made from, or
 * undefined when it does (it may have been replaced or edited since the run).
 */
async function originalDiffers(png: Uint8Array, row: ExportRow, labels: Uint8Array): Promise<string | undefined> {
  let decoded;
  try {
    decoded = await decodeClassIndexPng(png, row);
  } catch (err) {
    return `it no longer decodes: ${describeError(err)}`;
  }
  if (typeof decoded === 'string') return decoded;
  let changed = 0;
  for (let i = 0; i < labels.length; i++) if (decoded.data[i] !== labels[i]) changed++;
  return changed === 0 ? undefined : `${changed} of its ${labels.length} pixels hold another class than the shards' masks`;
}

/**
 * ADE20K export: `images/<split>/<name>.png` (the protected image) and
 * `annotations/<split>/<name>.png`, copied byte for byte from the original when it is
 * available and still holds the stored masks' classes, else rebuilt from the stored masks
 * (identical class indices: each class's mask is exactly the set of its pixels).
 */
export const ade20kExport: DatasetExportHook = async (job) => {
  let images = 0;
  for await (const row of job.rows) {
    const ann = annotationPath(row.image.path, row, job.split);
    const labels = labelMap(row);
    await job.out.write(row.image.path, row.image.bytes);
    if (job.original !== undefined) {
      const source = annotationPath(row.sourcePath, row, job.split);
      const original = await job.out.readOriginal(source);
      const why = await originalDiffers(original, row, labels);
      if (why !== undefined) {
        throw new ConfigError(`image ${row.id}: the original ${source} changed since the run (${why}); pass --from-shards to rebuild it from the shards`);
      }
      await job.out.write(ann, original);
    } else {
      await job.out.write(ann, await labelPng(row, labels));
    }
    images++;
  }
  return {
    images,
    annotations: job.original !== undefined ? 'original' : 'shards',
    annotationFiles: images > 0 ? [`annotations/${job.split}/`] : [],
    notes: [],
  };
};

