import { createHash, type Hash } from 'node:crypto';
import path from 'node:path';
import { SampleError } from '../errors.js';
import type { Sample } from '../plugin/types.js';

/**
 * What a shard was made from, as a sha256 over its input samples in position order: each
 * sample's id, size, image file and objects (id, category, flags and the original annotation
 * record). Stored in the shard's stats so that a resumed run can tell that the dataset changed
 * under a folder it already wrote to (relabelled, samples added or removed), which would
 * otherwise mix two versions of the data in one published set. Image and mask pixels are not
 * read for it: that would double a resume's cost.
 */
export class InputDigests {
  private readonly open = new Map<number, Hash>();

  constructor(private readonly root: string) {}

  /** Adds the sample at `position` to its shard's digest. */
  add(shard: number, position: number, item: Sample | SampleError): void {
    let hash = this.open.get(shard);
    if (!hash) this.open.set(shard, (hash = createHash('sha256')));
    hash.update(`${JSON.stringify(this.describe(position, item))}\n`);
  }

  /** The finished digest of a shard whose samples have all been added (once). */
  take(shard: number): string | undefined {
    const hash = this.open.get(shard);
    if (!hash) return undefined;
    this.open.delete(shard);
    return hash.digest('hex');
  }

  private describe(position: number, item: Sample | SampleError): unknown {
    // A sample that could not be read counts by its file only: its reason may change between
    // runs (a permission, a decoder's wording) without the data changing.
    if (item instanceof SampleError) return [position, 'unreadable', this.relative(item.file)];
    const image = item.image.kind === 'file' ? this.relative(item.image.path) : item.image.name;
    const objects = item.objects.map((o) => [o.id, o.categoryId, o.category, o.isThing, o.isCrowd, o.annotation ?? null]);
    return [position, item.id, item.width, item.height, image, objects];
  }

  private relative(file: string): string {
    return path.isAbsolute(file) ? path.relative(this.root, file) : file;
  }
}
