import sharp from 'sharp';
import { ConfigError, rleDecode, rleFromString, type DatasetExportHook, type ExportRow } from '@unseg/core';

/** `[prefix/]images/<split>/<name>.png` -> the annotation PNG's path beside it in the ADE20K layout. */
function annotationPath(row: ExportRow, split: string): string {
  const parts = row.image.path.split('/');
  const n = parts.length;
  if (n < 3 || parts[n - 3] !== 'images' || parts[n - 2] !== split) {
    throw new ConfigError(`image ${row.id}: published path ${JSON.stringify(row.image.path)} is not images/${split}/<name>`);
  }
  const stem = (parts[n - 1] as string).replace(/\.[^.]+$/, '');
  return [...parts.slice(0, n - 3), 'annotations', split, `${stem}.png`].join('/');
}

/** The class-index PNG rebuilt from the stored masks (one object per class present). */
async function labelPng(row: ExportRow): Promise<Buffer> {
  const { width, height } = row;
  const labels = new Uint8Array(width * height);
  for (const o of row.objects) {
    if (!Number.isInteger(o.categoryId) || o.categoryId < 1 || o.categoryId > 255) {
      throw new ConfigError(`image ${row.id}: object ${o.id} has class ${o.categoryId}, not an 8-bit class index`);
    }
    const mask = rleDecode(rleFromString(o.rle, height, width)).data;
    for (let i = 0; i < mask.length; i++) if (mask[i]) labels[i] = o.categoryId;
  }
  // Without toColourspace('b-w') sharp widens one channel to RGB, which ADE20K readers refuse.
  return sharp(labels, { raw: { width, height, channels: 1 } }).toColourspace('b-w').png().toBuffer();
}

/**
 * ADE20K export: `images/<split>/<name>.png` (the protected image) and
 * `annotations/<split>/<name>.png`, copied byte for byte from the original when it is
 * available, else rebuilt from the stored masks (identical class indices: each class's mask is
 * exactly the set of its pixels).
 */
export const ade20kExport: DatasetExportHook = async (job) => {
  let images = 0;
  for await (const row of job.rows) {
    const ann = annotationPath(row, job.split);
    await job.out.write(row.image.path, row.image.bytes);
    if (job.original !== undefined) await job.out.copyFromOriginal(ann, ann);
    else await job.out.write(ann, await labelPng(row));
    images++;
  }
  return {
    images,
    annotations: job.original !== undefined ? 'original' : 'shards',
    annotationFiles: images > 0 ? [`annotations/${job.split}/`] : [],
    notes: [],
  };
};

