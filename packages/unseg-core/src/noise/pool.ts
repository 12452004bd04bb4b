/**
 * Full-size noise arrays handed back by the engine (NoiseSource.release), kept for the next
 * batch. A 1024x1024 image's directions are a 12 MB Float32Array; allocating a fresh one per
 * image cost 20-60 ms in page faults and GC on the 2-core machine, more than filling it.
 * Bounded, so a run's memory does not grow with what it has seen.
 */
export class DirectionPool {
  private readonly free = new Map<number, Float32Array[]>();
  private count = 0;

  constructor(private readonly capacity = 16) {}

  /** An array of `length` values; its content is whatever was there (the caller overwrites it). */
  take(length: number): Float32Array {
    const list = this.free.get(length);
    const reused = list?.pop();
    if (reused) {
      this.count--;
      return reused;
    }
    return new Float32Array(length);
  }

  /** Arrays the caller will never read or write again. */
  give(arrays: readonly Float32Array[]): void {
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
