// Checks against RLEs produced by pycocotools and by the datasets' own tools (see
// test-fixtures/README.md): nothing expected here is computed by this module.
import { readFileSync } from 'node:fs';
import {
  rleArea,
  rleDecode,
  rleEncode,
  rleFromCounts,
  rleFromPolygons,
  rleFromSegmentation,
  rleFromString,
  rleToBbox,
  rleToString,
} from './index.js';

function fixture<T>(name: string): T {
  return JSON.parse(readFileSync(new URL(`./test-fixtures/${name}`, import.meta.url), 'utf8')) as T;
}

interface CocoImage {
  id: number;
  file_name: string;
  height: number;
  width: number;
}
interface CocoAnnotation {
  id: number;
  image_id: number;
  bbox: [number, number, number, number];
  area: number;
  segmentation: unknown;
}
interface CompressedRle {
  size: [number, number];
  counts: string;
}
interface Sa1bAnnotation {
  id: number;
  bbox: [number, number, number, number];
  area: number;
  segmentation: CompressedRle;
}
interface Sa1bFile {
  image: { file_name: string; height: number; width: number };
  annotations: Sa1bAnnotation[];
}

const coco = fixture<{ images: CocoImage[]; annotations: CocoAnnotation[] }>('coco-facades-test-subset.json');
const sa1b = fixture<{ mapping: { sa_file: string; source_file: string }[]; files: Sa1bFile[] }>(
  'sa1b-facades-subset.json',
);

/** The SA-1B export keeps the COCO annotations of an image in their original order (ids + 1). */
const pairs = sa1b.files.map((file) => {
  const source = sa1b.mapping.find((m) => m.sa_file === file.image.file_name)?.source_file;
  const image = coco.images.find((i) => i.file_name === source);
  if (!image) throw new Error(`fixture: no COCO image for ${file.image.file_name}`);
  const anns = coco.annotations.filter((a) => a.image_id === image.id).sort((a, b) => a.id - b.id);
  return { name: file.image.file_name, image, anns, sa: file.annotations };
});

interface PolygonVector {
  name: string;
  height: number;
  width: number;
  polygons: number[][];
  counts: string;
  area: number;
  bbox: [number, number, number, number];
}
const pycoco = fixture<{
  facades: { id: number; counts: string; area: number; bbox: [number, number, number, number] }[];
  polygons: PolygonVector[];
  strings: { height: number; width: number; counts: number[]; string: string }[];
}>('pycocotools-vectors.json');

describe('polygons against pycocotools 2.0.11 output (test-fixtures/make-pycocotools-vectors.py)', () => {
  it.each(coco.annotations.map((a) => [a.id, a] as const))('coco-facades annotation %s', (id, a) => {
    const image = coco.images.find((i) => i.id === a.image_id)!;
    const expected = pycoco.facades.find((f) => f.id === id)!;
    const rle = rleFromSegmentation(a.segmentation, image.height, image.width);
    expect(rleToString(rle)).toBe(expected.counts);
    expect(rleArea(rle)).toBe(expected.area);
    expect(rleToBbox(rle)).toEqual(expected.bbox);
  });

  it('covers every annotation of the subset', () => {
    expect(pycoco.facades.map((f) => f.id).sort()).toEqual(coco.annotations.map((a) => a.id).sort());
  });

  it.each(pycoco.polygons.map((v) => [v.name, v] as const))('%s', (_name, v) => {
    const rle = rleFromPolygons(v.polygons, v.height, v.width);
    expect(rleToString(rle)).toBe(v.counts);
    expect(rleArea(rle)).toBe(v.area);
    expect(rleToBbox(rle)).toEqual(v.bbox);
  });

  it.each(pycoco.strings.map((v) => [v.counts.join(','), v] as const))('rleToString of counts %s', (_c, v) => {
    const rle = rleFromCounts(v.counts, v.height, v.width);
    expect(rleToString(rle)).toBe(v.string);
    expect(Array.from(rleFromString(v.string, v.height, v.width).counts)).toEqual(v.counts);
  });
});

/**
 * The SA-1B export's masks are NOT pycocotools rasterisations of the COCO polygons (pycocotools
 * 2.0.11 itself reproduces none of them: they are about one pixel fatter, IoU 0.95..0.998), so
 * they check the string codec, area and bbox, while the polygon pairing only bounds the IoU.
 */
describe('SA-1B facade masks (sa1b-facades, derived from coco-facades)', () => {
  it('uses at least 3 images and 30 annotations', () => {
    expect(pairs.length).toBeGreaterThanOrEqual(3);
    expect(pairs.reduce((n, p) => n + p.anns.length, 0)).toBeGreaterThanOrEqual(30);
  });

  describe.each(pairs)('$name', ({ image, anns, sa }) => {
    it('each mask overlaps the rasterised COCO polygon of the same index (IoU > 0.94)', () => {
      expect(sa.length).toBe(anns.length);
      anns.forEach((a, i) => {
        const ours = rleDecode(rleFromPolygons(a.segmentation as number[][], image.height, image.width)).data;
        const theirs = rleDecode(rleFromString(sa[i]!.segmentation.counts, image.height, image.width)).data;
        let inter = 0;
        let union = 0;
        for (let p = 0; p < ours.length; p++) {
          inter += ours[p]! & theirs[p]!;
          union += ours[p]! | theirs[p]!;
        }
        expect({ id: a.id, iouAbove: inter / union > 0.94 }).toEqual({ id: a.id, iouAbove: true });
      });
    });

    it('area and bbox of the decoded masks match the file', () => {
      for (const s of sa) {
        expect(s.segmentation.size).toEqual([image.height, image.width]);
        const rle = rleFromString(s.segmentation.counts, image.height, image.width);
        expect(rleArea(rle)).toBe(s.area);
        expect(rleToBbox(rle)).toEqual(s.bbox);
      }
    });

    it('decode then encode round-trips the masks', () => {
      for (const s of sa) {
        const rle = rleFromString(s.segmentation.counts, image.height, image.width);
        const mask = rleDecode(rle);
        expect(mask.data.reduce((n, v) => n + v, 0)).toBe(s.area);
        const again = rleEncode(mask);
        expect(again.counts).toEqual(rle.counts);
        expect(rleToString(again)).toBe(s.segmentation.counts);
      }
    });
  });
});

describe('compressed RLEs from cocodataset/panopticapi sample', () => {
  const panoptic = fixture<{ images: CocoImage[]; annotations: CocoAnnotation[] }>(
    'coco-panoptic-detection-subset.json',
  );

  it('holds the 50 annotations', () => {
    expect(panoptic.annotations).toHaveLength(50);
  });

  it.each(panoptic.annotations.map((a) => [a.id, a] as const))('annotation %s', (_id, a) => {
    const image = panoptic.images.find((i) => i.id === a.image_id)!;
    const seg = a.segmentation as CompressedRle;
    const rle = rleFromSegmentation(seg, image.height, image.width);
    expect(rleToString(rle)).toBe(seg.counts);
    expect(rleArea(rle)).toBe(a.area);
    if (a.bbox) expect(rleToBbox(rle)).toEqual(a.bbox);
    const again = rleEncode(rleDecode(rle));
    expect(rleToString(again)).toBe(seg.counts);
  });
});
