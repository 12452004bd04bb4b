// COCO panoptic: each image has one PNG whose pixel colour encodes a segment id
// (id = R + 256 G + 256^2 B, 0 = unlabelled), and a segments_info list giving each id's category.
import sharp from 'sharp';
import {
  SampleError,
  asBbox,
  describeError,
  isRecord,
  resolveInsideRoot,
  rleEncode,
  type Category,
  type Rle,
  type SampleObject,
} from '@unseg/core';

export interface PanopticInput {
  readonly annFile: string;
  readonly sampleId: string;
  readonly root: string;
  readonly pngDir: string;
  readonly followSymlinks: boolean;
  readonly categoryById: ReadonlyMap<number, Category>;
  readonly annotation: Record<string, unknown>;
  readonly height: number;
  readonly width: number;
}

/** Decodes a panoptic PNG into one segment id per pixel (row-major), checking its size first. */
export async function readSegmentIds(png: string | Uint8Array, height: number, width: number): Promise<Uint32Array> {
  // The header is read before any pixel, so a PNG claiming a huge size is refused cheaply.
  const meta = await sharp(png).metadata();
  if (meta.width !== width || meta.height !== height) {
    throw new Error(`PNG is ${meta.width}x${meta.height} but the image record says ${width}x${height}`);
  }
  if ((meta.channels ?? 0) < 3 && !meta.isPalette) {
    throw new Error(`PNG has ${meta.channels} channel(s); a panoptic PNG is RGB (id = R + 256 G + 256^2 B)`);
  }
  const { data, info } = await sharp(png, { failOn: 'error', limitInputPixels: width * height })
    .toColourspace('srgb')
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  const ch = info.channels;
  const ids = new Uint32Array(width * height);
  for (let i = 0, p = 0; i < ids.length; i++, p += ch) {
    ids[i] = (data[p] as number) + 256 * (data[p + 1] as number) + 65536 * (data[p + 2] as number);
  }
  return ids;
}

export async function panopticObjects(input: PanopticInput): Promise<SampleObject[] | SampleError> {
  const { annFile, sampleId, annotation, height, width } = input;
  const fail = (reason: string, code?: string) => new SampleError(annFile, `image ${sampleId}: ${reason}`, { sampleId, ...(code ? { code } : {}) });
  const segments = annotation.segments_info;
  if (!Array.isArray(segments)) return fail('panoptic annotation has no "segments_info" array');
  const png = await resolveInsideRoot(input.root, input.pngDir, annotation.file_name, input.followSymlinks);
  if (!png.ok) return fail(`panoptic PNG: ${png.reason}`, 'MASK_UNAVAILABLE');
  const pngPath = png.path;

  const listed = new Set<number>();
  for (const [i, s] of segments.entries()) {
    if (!isRecord(s) || typeof s.id !== 'number' || !Number.isInteger(s.id) || s.id <= 0 || s.id >= 2 ** 24) {
      return fail(`segments_info[${i}] needs an integer "id" in 1..2^24-1`);
    }
    if (listed.has(s.id)) return fail(`segment id ${s.id} is listed twice`);
    listed.add(s.id);
  }

  // One decode per sample, shared by all its segments, started only when a mask is asked for.
  let decoded: Promise<Uint32Array> | undefined;
  const ids = (): Promise<Uint32Array> =>
    (decoded ??= (async () => {
      const out = await readSegmentIds(pngPath, height, width);
      const present = new Set<number>(out);
      present.delete(0);
      // panopticapi treats an id in the PNG without a segments_info entry (or the reverse) as
      // a corrupt annotation; so do we, rather than silently leaving pixels unprotected.
      for (const id of present) if (!listed.has(id)) throw new Error(`PNG contains segment id ${id}, which segments_info does not list`);
      for (const id of listed) if (!present.has(id)) throw new Error(`segment id ${id} of segments_info has no pixel in the PNG`);
      return out;
    })());

  const objects: SampleObject[] = [];
  for (const s of segments as Record<string, unknown>[]) {
    const segId = s.id as number;
    const category = typeof s.category_id === 'number' ? input.categoryById.get(s.category_id) : undefined;
    if (!category) return fail(`segment ${segId}: category_id ${JSON.stringify(s.category_id)} is not in "categories"`);
    const bbox = asBbox(s.bbox);
    objects.push({
      id: String(segId),
      categoryId: category.id,
      category: category.name,
      isThing: category.isThing,
      isCrowd: s.iscrowd === 1 || s.iscrowd === true,
      ...(bbox ? { bbox } : {}),
      annotation: s,
      mask: async (): Promise<Rle> => {
        let map: Uint32Array;
        try {
          map = await ids();
        } catch (err) {
          throw new SampleError(pngPath, `image ${sampleId}: ${describeError(err)}`, { sampleId, code: 'MASK_INVALID', cause: err });
        }
        const data = new Uint8Array(map.length);
        for (let i = 0; i < map.length; i++) data[i] = map[i] === segId ? 1 : 0;
        return rleEncode({ height, width, data });
      },
    });
  }
  return objects;
}
