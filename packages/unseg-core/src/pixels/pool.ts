/**
 * Full-size pixel arrays handed back once their last reader is done, kept for the next image.
 * A 1024x1024 image's noise directions are a 12 MB Float32Array and its protected pixels a 3 MB
 * Uint8Array; allocating fresh ones per image cost more in page faults and GC on the 2-core
 * machine than filling them (20-60 ms for the directions, ~6 ms for the pixels). Bounded, so a
 * run's memory does not grow with what it has seen.
 */
export class ArrayPool<T extends Float32Array | Uint8Array> {
  private readonly free = new Map<number, T[]>();
  private count = 0;

  constructor(
    private readonly create: (length: number) => T,
    private readonly capacity = 16,
  ) {}

  /** An array of `length` values; its content is whatever was there (the caller overwrites it). */
  take(length: number): T {
    const list = this.free.get(length);
    const reused = list?.pop();
    if (reused) {
      this.count--;
      return reused;
    }
    return this.create(length);
  }

  /** Arrays the caller will never read or write again. */
  give(arrays: readonly T[]): void {
    for (const a of arrays) {
      if (this.count >= this.capacity) return;
      const list = this.free.get(a.length);
      if (list) list.push(a);
      else this.free.set(a.length, [a]);
      this.count++;
    }
  }

  get size(): number {
    return this.count;
  }
}

/** A pool of noise direction arrays. */
export function directionPool(capacity?: number): ArrayPool<Float32Array> {
  return new ArrayPool((length) => new Float32Array(length), capacity);
}

/** A pool of 8-bit pixel arrays. */
export function bytePool(capacity?: number): ArrayPool<Uint8Array> {
  return new ArrayPool((length) => new Uint8Array(length), capacity);
}
