import { readFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import {
  ConfigError,
  PLUGIN_CONTRACT_VERSION,
  SampleError,
  compareStrings,
  describeError,
  isDirectory,
  listSorted,
  resolveInsideRoot,
  rleEncode,
  type Category,
  type DatasetPlugin,
  type DatasetReader,
  type OpenOptions,
  type Rle,
  type Sample,
  type SampleObject,
} from '@unseg/core';
import { CITYSCAPES_LABELS, LABEL_BY_ID, MAX_LABEL_ID, type CityscapesLabel } from './labels.js';

const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

const IMAGE_SUFFIX = '_leftImg8bit.png';
const LABEL_SUFFIX = '_gtFine_labelIds.png';
const INSTANCE_SUFFIX = '_gtFine_instanceIds.png';

export interface CityscapesPluginOptions {
  /**
   * Also yield regions of the classes Cityscapes ignores in evaluation (ego vehicle, out of roi,
   * static, dynamic, ground, parking, rail track, guard rail, bridge, tunnel, polegroup,
   * caravan, trailer). Off by default: those pixels then count as background, outside the
   * prompt, as the benchmark treats them (trainId 255). `unlabeled` (id 0) is never an object.
   */
  readonly includeIgnored?: boolean;
}

/** What a Cityscapes object carries as its `annotation`: there is no record, only the two PNGs. */
export interface CityscapesObjectAnnotation {
  /** The value in `*_instanceIds.png`: >= 1000 for an instance (class * 1000 + n), else the label id. */
  readonly instanceId: number;
  readonly labelId: number;
  readonly trainId: number;
  readonly ignoreInEval: boolean;
  readonly pixelCount: number;
  /** Relative to the reader's root. */
  readonly labelIdsFile: string;
  readonly instanceIdsFile: string;
}

function categoriesFor(includeIgnored: boolean): readonly Category[] {
  return CITYSCAPES_LABELS.filter((l) => l.id > 0 && (includeIgnored || !l.ignoreInEval)).map((l) => ({
    id: l.id,
    name: l.name,
    isThing: l.hasInstances,
    supercategory: l.category,
  }));
}

/** Splits present under both leftImg8bit/ and gtFine/, sorted. */
async function commonSplits(root: string): Promise<string[]> {
  const out: string[] = [];
  for (const name of await listSorted(path.join(root, 'leftImg8bit'))) {
    if ((await isDirectory(path.join(root, 'leftImg8bit', name))) && (await isDirectory(path.join(root, 'gtFine', name)))) out.push(name);
  }
  return out;
}

interface Region {
  count: number;
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

interface Decoded {
  readonly width: number;
  readonly height: number;
  /** Per pixel: the instance id (>= 1000) or, outside instances, the label id. */
  readonly keys: Uint16Array;
  readonly regions: Map<number, Region>;
  readonly labelOf: Map<number, number>;
}

async function headerOf(file: string): Promise<sharp.Metadata> {
  return sharp(file).metadata();
}

/**
 * Reads labelIds (8-bit) and instanceIds (16-bit) after checking their headers: a palette or
 * RGB PNG would be expanded to colours by the decoder and its ids silently lost. Returns the
 * reason and the file at fault when something is wrong.
 */
async function decode(image: string, labelsPng: string, instancesPng: string): Promise<Decoded | { file: string; reason: string }> {
  const im = await headerOf(image).catch((err: unknown) => describeError(err));
  if (typeof im === 'string') return { file: image, reason: `cannot read the image header: ${im}` };
  const heads: [string, sharp.Metadata][] = [];
  for (const [file, depths] of [
    [labelsPng, ['uchar']],
    [instancesPng, ['ushort', 'uchar']],
  ] as const) {
    const m = await headerOf(file).catch((err: unknown) => describeError(err));
    if (typeof m === 'string') return { file, reason: `cannot read the PNG header: ${m}` };
    if (m.isPalette || m.channels !== 1 || !(depths as readonly string[]).includes(m.depth ?? '')) {
      return { file, reason: `must be a single-channel ${depths.join(' or ')} PNG of ids; it is ${m.isPalette ? 'a palette image' : `${m.channels}-channel ${m.depth}`}` };
    }
    // Header sizes, before any EXIF rotation: orientation is the engine's decision.
    if (m.width !== im.width || m.height !== im.height) return { file, reason: `is ${m.width}x${m.height} but the image is ${im.width}x${im.height}` };
    heads.push([file, m]);
  }
  const { width, height } = im;
  const pixels = width * height;
  let labels: Buffer;
  let instances: Uint16Array;
  try {
    // sharp expands a grey PNG to three channels unless told to keep one.
    labels = await sharp(labelsPng, { failOn: 'error', limitInputPixels: pixels }).extractChannel(0).raw().toBuffer();
  } catch (err) {
    return { file: labelsPng, reason: `cannot decode: ${describeError(err)}` };
  }
  try {
    if (heads[1]?.[1].depth === 'ushort') {
      // Without the explicit grey16 colourspace sharp reduces 16-bit grey to 8 bits (ids >> 8).
      const buf = await sharp(instancesPng, { failOn: 'error', limitInputPixels: pixels }).toColourspace('grey16').raw({ depth: 'ushort' }).toBuffer();
      instances = new Uint16Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
    } else {
      instances = Uint16Array.from(await sharp(instancesPng, { failOn: 'error', limitInputPixels: pixels }).extractChannel(0).raw().toBuffer());
    }
  } catch (err) {
    return { file: instancesPng, reason: `cannot decode: ${describeError(err)}` };
  }
  if (labels.length !== pixels || instances.length !== pixels) return { file: labelsPng, reason: 'decoded to an unexpected layout' };

  const keys = new Uint16Array(pixels);
  const regions = new Map<number, Region>();
  const labelOf = new Map<number, number>();
  for (let y = 0, i = 0; y < height; y++) {
    for (let x = 0; x < width; x++, i++) {
      const label = labels[i] as number;
      const inst = instances[i] as number;
      if (label > MAX_LABEL_ID) return { file: labelsPng, reason: `pixel (${x}, ${y}) has label id ${label}; Cityscapes has 0..${MAX_LABEL_ID}` };
      // The class always comes from labelIds; instanceIds only splits it into instances, so the
      // two must agree: an instance's class is its id // 1000, elsewhere the id is the label.
      const claimed = inst >= 1000 ? Math.floor(inst / 1000) : inst;
      if (claimed !== label) {
        return { file: instancesPng, reason: `pixel (${x}, ${y}) has instance id ${inst} (class ${claimed}) but label id ${label} in ${path.basename(labelsPng)}` };
      }
      if (inst >= 1000 && !(LABEL_BY_ID.get(label) as CityscapesLabel).hasInstances) {
        return { file: instancesPng, reason: `pixel (${x}, ${y}) has instance id ${inst}, but class ${label} has no instances` };
      }
      const key = inst >= 1000 ? inst : label;
      keys[i] = key;
      const r = regions.get(key);
      if (!r) {
        regions.set(key, { count: 1, x0: x, y0: y, x1: x, y1: y });
        labelOf.set(key, label);
      } else {
        r.count++;
        if (x < r.x0) r.x0 = x;
        if (x > r.x1) r.x1 = x;
        r.y1 = y;
      }
    }
  }
  return { width, height, keys, regions, labelOf };
}

class CityscapesReader implements DatasetReader {
  constructor(
    readonly root: string,
    private readonly splitNames: readonly string[],
    private readonly followSymlinks: boolean,
    private readonly includeIgnored: boolean,
  ) {}

  async splits(): Promise<string[]> {
    return [...this.splitNames];
  }

  private check(split: string): void {
    if (!this.splitNames.includes(split)) {
      throw new ConfigError(`Cityscapes dataset at ${this.root} has no split "${split}" (it has: ${this.splitNames.join(', ') || 'none'})`);
    }
  }

  async categories(split: string): Promise<readonly Category[]> {
    this.check(split);
    return categoriesFor(this.includeIgnored);
  }

  async *samples(split: string): AsyncIterable<Sample | SampleError> {
    this.check(split);
    const imageSplit = path.join(this.root, 'leftImg8bit', split);
    const gtSplit = path.join(this.root, 'gtFine', split);
    const cities = [...new Set([...(await listSorted(imageSplit)), ...(await listSorted(gtSplit))])].sort(compareStrings);
    for (const city of cities) {
      const imageDir = path.join(imageSplit, city);
      const gtDir = path.join(gtSplit, city);
      if (!(await isDirectory(imageDir)) && !(await isDirectory(gtDir))) continue;
      const stems = new Map<string, { image?: string; labels?: string; instances?: string }>();
      const note = (stem: string, key: 'image' | 'labels' | 'instances', name: string): void => {
        stems.set(stem, { ...stems.get(stem), [key]: name });
      };
      for (const name of await listSorted(imageDir)) if (name.endsWith(IMAGE_SUFFIX)) note(name.slice(0, -IMAGE_SUFFIX.length), 'image', name);
      for (const name of await listSorted(gtDir)) {
        if (name.endsWith(LABEL_SUFFIX)) note(name.slice(0, -LABEL_SUFFIX.length), 'labels', name);
        else if (name.endsWith(INSTANCE_SUFFIX)) note(name.slice(0, -INSTANCE_SUFFIX.length), 'instances', name);
      }
      for (const stem of [...stems.keys()].sort(compareStrings)) {
        const f = stems.get(stem) as { image?: string; labels?: string; instances?: string };
        if (!f.image) {
          const present = path.join(gtDir, (f.labels ?? f.instances) as string);
          yield new SampleError(present, `no image ${stem}${IMAGE_SUFFIX} in ${imageDir}`, { sampleId: stem, code: 'MISSING_IMAGE' });
          continue;
        }
        if (!f.labels || !f.instances) {
          const missing = path.join(gtDir, stem + (f.labels ? INSTANCE_SUFFIX : LABEL_SUFFIX));
          yield new SampleError(missing, `file not found (the annotation of ${f.image})`, { sampleId: stem, code: 'MISSING_ANNOTATION' });
          continue;
        }
        yield await this.sample(split, stem, imageDir, f.image, gtDir, f.labels, f.instances);
      }
    }
  }

  private async sample(split: string, id: string, imageDir: string, imageName: string, gtDir: string, labelsName: string, instancesName: string): Promise<Sample | SampleError> {
    const resolved: string[] = [];
    for (const [dir, name, code] of [
      [imageDir, imageName, 'IMAGE_UNAVAILABLE'],
      [gtDir, labelsName, 'MASK_UNAVAILABLE'],
      [gtDir, instancesName, 'MASK_UNAVAILABLE'],
    ] as const) {
      const r = await resolveInsideRoot(this.root, dir, name, this.followSymlinks);
      if (!r.ok) return new SampleError(path.join(dir, name), r.reason, { sampleId: id, code });
      resolved.push(r.path);
    }
    const [image, labelsPng, instancesPng] = resolved as [string, string, string];
    let d: Awaited<ReturnType<typeof decode>>;
    try {
      d = await decode(image, labelsPng, instancesPng);
    } catch (err) {
      return new SampleError(instancesPng, `cannot read: ${describeError(err)}`, { sampleId: id, code: 'MASK_INVALID', cause: err });
    }
    if (!('keys' in d)) return new SampleError(d.file, d.reason, { sampleId: id, code: 'MASK_INVALID' });
    const { width, height, keys, regions, labelOf } = d;
    const labelIdsFile = path.relative(this.root, labelsPng);
    const instanceIdsFile = path.relative(this.root, instancesPng);
    const objects: SampleObject[] = [];
    for (const key of [...regions.keys()].sort((a, b) => a - b)) {
      const label = LABEL_BY_ID.get(labelOf.get(key) as number) as CityscapesLabel;
      if (label.id === 0 || (label.ignoreInEval && !this.includeIgnored)) continue;
      const r = regions.get(key) as Region;
      const annotation: CityscapesObjectAnnotation = {
        instanceId: key,
        labelId: label.id,
        trainId: label.trainId,
        ignoreInEval: label.ignoreInEval,
        pixelCount: r.count,
        labelIdsFile,
        instanceIdsFile,
      };
      objects.push({
        id: String(key),
        categoryId: label.id,
        category: label.name,
        isThing: label.hasInstances,
        // A thing class without an instance id is a group Cityscapes did not split ("cargroup"):
        // the official panoptic conversion marks it iscrowd, and so does this reader.
        isCrowd: label.hasInstances && key < 1000,
        bbox: [r.x0, r.y0, r.x1 - r.x0 + 1, r.y1 - r.y0 + 1] as const,
        annotation,
        mask: async (): Promise<Rle> => {
          const data = new Uint8Array(width * height);
          for (let i = 0; i < data.length; i++) data[i] = keys[i] === key ? 1 : 0;
          return rleEncode({ height, width, data });
        },
      });
    }
    return {
      id,
      split,
      image: { kind: 'file', path: image },
      width,
      height,
      objects,
      meta: { format: 'cityscapes', imageFile: path.relative(this.root, image), labelIdsFile, instanceIdsFile },
    };
  }
}

/**
 * Cityscapes fine annotations: `leftImg8bit/<split>/<city>/*_leftImg8bit.png` with
 * `gtFine/<split>/<city>/*_gtFine_{labelIds,instanceIds}.png`. One object per instance of a
 * thing class, one per stuff class present; classes come from labelIds.
 */
export function cityscapesPlugin(options: CityscapesPluginOptions = {}): DatasetPlugin {
  const includeIgnored = options.includeIgnored ?? false;
  return {
    name: 'cityscapes',
    version: VERSION,
    contract: PLUGIN_CONTRACT_VERSION,
    description: 'Cityscapes: leftImg8bit/<split>/<city>/*.png + gtFine/<split>/<city>/*_gtFine_{labelIds,instanceIds}.png',
    async detect(root: string): Promise<boolean> {
      return (await commonSplits(path.resolve(root))).length > 0;
    },
    async open(root: string, openOptions: OpenOptions = {}): Promise<DatasetReader> {
      const resolved = path.resolve(root);
      const splits = await commonSplits(resolved);
      if (splits.length === 0) throw new ConfigError(`${root} is not a Cityscapes dataset: expected leftImg8bit/<split>/ and gtFine/<split>/`);
      return new CityscapesReader(resolved, splits, openOptions.followSymlinks ?? false, includeIgnored);
    },
  };
}
