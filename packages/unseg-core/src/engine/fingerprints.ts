import { createHash } from 'node:crypto';

/**
 * A set of strings kept as 64-bit fingerprints in an open-addressing table, for the ids and
 * names of a split: it can hold tens of millions of samples (SA-1B is one split of 11M), more
 * than a Set of strings holds in a worker's memory (and past V8's 2^24 entries per Set). 16
 * bytes per string at most half full; two different strings share a fingerprint with odds of
 * about n^2 / 2^65 (3e-6 for 11M).
 */
export class StringFingerprints {
  private table = new Uint32Array(2 * 1024);
  private count = 0;

  /** Adds the string; false when it was there already. */
  add(text: string): boolean {
    const digest = createHash('sha1').update(text).digest();
    // 0/0 marks an empty slot, so the fingerprint never takes it.
    const hi = digest.readUInt32LE(0) || 1;
    const lo = digest.readUInt32LE(4);
    if (2 * (this.count + 1) > this.table.length / 2) this.grow();
    return this.insert(hi, lo);
  }

  private insert(hi: number, lo: number): boolean {
    const slots = this.table.length / 2;
    for (let i = ((hi ^ lo) >>> 0) % slots; ; i = (i + 1) % slots) {
      const h = this.table[2 * i];
      if (h === 0) {
        this.table[2 * i] = hi;
        this.table[2 * i + 1] = lo;
        this.count++;
        return true;
      }
      if (h === hi && this.table[2 * i + 1] === lo) return false;
    }
  }

  private grow(): void {
    const old = this.table;
    this.table = new Uint32Array(old.length * 2);
    this.count = 0;
    for (let i = 0; i < old.length; i += 2) if (old[i] !== 0) this.insert(old[i]!, old[i + 1]!);
  }
}
