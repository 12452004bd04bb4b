import path from 'node:path';
import { ConfigError, isRecord, readJsonLimited, resolveInsideRoot, type DatasetExportHook } from '@unseg/core';

/**
 * SA-1B export: `[sa_<tar>/]sa_<n>.png` beside `sa_<n>.json`. With the original, the JSON is
 * copied unchanged but for `image.file_name`; without it, it is rebuilt from the row (the
 * stored annotations are the originals verbatim; `image_id` comes from the file name).
 */
export function sa1bExport(maxJsonBytes: number): DatasetExportHook {
  return async (job) => {
    let images = 0;
    for await (const row of job.rows) {
      const dir = path.posix.dirname(row.image.path);
      const prefix = dir === '.' ? '' : `${dir}/`;
      const jsonRel = `${prefix}${row.id}.json`;
      const fileName = path.posix.basename(row.image.path);
      let json: Record<string, unknown>;
      if (job.original !== undefined) {
        const srcDir = path.posix.dirname(row.sourcePath);
        const src = await resolveInsideRoot(job.original, job.original, `${srcDir === '.' ? '' : `${srcDir}/`}${row.id}.json`);
        if (!src.ok) throw new ConfigError(`image ${row.id}: original annotation: ${src.reason}`);
        const original = await readJsonLimited(src.path, maxJsonBytes);
        if (!isRecord(original) || !isRecord(original.image) || !Array.isArray(original.annotations)) {
          throw new ConfigError(`${src.path}: not an SA-1B annotation file`);
        }
        const ids = original.annotations.map((a) => String(isRecord(a) ? a.id : a));
        if (ids.join(',') !== row.objects.map((o) => o.id).join(',')) {
          throw new ConfigError(`${src.path}: its annotations differ from the shards' objects: the original changed since the run`);
        }
        json = { ...original, image: { ...original.image, file_name: fileName } };
      } else {
        const n = /^sa_(\d+)$/.exec(row.id);
        json = {
          image: { image_id: n ? Number(n[1]) : row.id, width: row.width, height: row.height, file_name: fileName },
          annotations: row.objects.map((o) => o.annotation),
        };
      }
      await job.out.write(row.image.path, row.image.bytes);
      await job.out.write(jsonRel, JSON.stringify(json));
      images++;
    }
    return { images, annotations: job.original !== undefined ? 'original' : 'shards', annotationFiles: [], notes: [] };
  };
}
