/**
 * Deflate's dynamic Huffman codes (RFC 1951, 3.2.2 and 3.2.7), for blocks made only of literal
 * bytes: the code lengths of a block's symbols, their canonical bit patterns, and the block
 * header that transmits them. The bit writing itself runs in pixels.wat; these are the few
 * hundred symbols around it.
 */

/** Longest code deflate allows for literals, and for the code-length alphabet. */
export const MAX_LITERAL_BITS = 15;
const MAX_CODE_LENGTH_BITS = 7;
/** The end-of-block symbol, right after the 256 literal bytes. */
export const END_OF_BLOCK = 256;
/** The order in which a dynamic header lists the code-length alphabet's own code lengths. */
const CODE_LENGTH_ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

/**
 * Huffman code lengths for the given symbol frequencies, none longer than maxBits; symbols of
 * frequency 0 get length 0. One used symbol gets length 1 (deflate sends at least one bit).
 *
 * Rare symbols are first raised to total / 2^(maxBits - 1): a tree rarely goes deeper than
 * log2(total / w) + 1 for its lightest weight w, so this one build is usually within the limit,
 * for a few bits on symbols that are rare anyway. Should the tree still be too deep, the
 * weights are halved (keeping each used symbol at 1 or more) and it is built again: each
 * halving flattens it, and n symbols need at most ceil(log2 n) bits.
 */
export function huffmanLengths(frequencies: ArrayLike<number>, maxBits: number): Uint8Array {
  const n = frequencies.length;
  const lengths = new Uint8Array(n);
  const used: number[] = [];
  let total = 0;
  for (let s = 0; s < n; s++) {
    if (frequencies[s]! > 0) {
      used.push(s);
      total += frequencies[s]!;
    }
  }
  if (used.length === 0) return lengths;
  if (used.length === 1) {
    lengths[used[0]!] = 1;
    return lengths;
  }
  const floor = Math.ceil(total / 2 ** (maxBits - 1));
  let weights = used.map((s) => Math.max(frequencies[s]!, floor));
  for (;;) {
    const depths = treeDepths(weights);
    if (depths.every((d) => d <= maxBits)) {
      used.forEach((s, i) => (lengths[s] = depths[i]!));
      return lengths;
    }
    weights = weights.map((w) => Math.max(1, w >>> 1));
  }
}

/**
 * Depth of each leaf in a Huffman tree over the weights (at least two), by the two-queue method:
 * leaves sorted by weight, internal nodes made in increasing weight, so the two lightest nodes
 * are always at the front of one queue or the other.
 */
function treeDepths(weights: readonly number[]): number[] {
  const count = weights.length;
  if (count > 1024) throw new RangeError(`treeDepths: ${count} symbols, at most 1024`);
  // Sorted by weight, then by index: one numeric sort of weight * 2^10 + index (exact in a
  // double for weights below 2^42), several times faster than a sort with a comparator.
  const keys = new Float64Array(count);
  for (let i = 0; i < count; i++) keys[i] = weights[i]! * 1024 + i;
  keys.sort();
  // Nodes 0..count-1 are the leaves in sorted order, the internal ones follow as they are made.
  const weight = new Float64Array(2 * count - 1);
  const parent = new Int32Array(2 * count - 1);
  const leafOf = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    leafOf[i] = keys[i]! % 1024;
    weight[i] = weights[leafOf[i]!]!;
  }
  let nextLeaf = 0;
  let nextInternal = count;
  let made = count;
  const lightest = (): number => {
    if (nextLeaf < count && (nextInternal >= made || weight[nextLeaf]! <= weight[nextInternal]!)) return nextLeaf++;
    return nextInternal++;
  };
  while (made < 2 * count - 1) {
    const a = lightest();
    const b = lightest();
    weight[made] = weight[a]! + weight[b]!;
    parent[a] = made;
    parent[b] = made;
    made++;
  }
  // Parents are made after their children, so depths fill in from the root down.
  const depth = new Int32Array(2 * count - 1);
  for (let node = 2 * count - 3; node >= 0; node--) depth[node] = depth[parent[node]!]! + 1;
  const out = new Array<number>(count);
  for (let i = 0; i < count; i++) out[leafOf[i]!] = depth[i]!;
  return out;
}

/**
 * The canonical code of each symbol (RFC 1951, 3.2.2), with its bits reversed: deflate sends a
 * Huffman code from its most significant bit, into a stream filled from each byte's least
 * significant bit.
 */
export function canonicalCodes(lengths: Uint8Array): Uint32Array {
  const perLength = new Uint32Array(MAX_LITERAL_BITS + 1);
  for (const l of lengths) if (l > 0) perLength[l]!++;
  const next = new Uint32Array(MAX_LITERAL_BITS + 2);
  let code = 0;
  for (let bits = 1; bits <= MAX_LITERAL_BITS; bits++) {
    code = (code + perLength[bits - 1]!) << 1;
    next[bits] = code;
  }
  const codes = new Uint32Array(lengths.length);
  lengths.forEach((l, s) => {
    if (l === 0) return;
    let c = next[l]!++;
    let reversed = 0;
    for (let i = 0; i < l; i++) {
      reversed = (reversed << 1) | (c & 1);
      c >>>= 1;
    }
    codes[s] = reversed;
  });
  return codes;
}

/** Bits to send, low bits first: [value, count] pairs. */
export type BitFields = Array<[value: number, count: number]>;

/**
 * The header of a dynamic-Huffman block whose symbols are the 256 literal bytes and end-of-block
 * (lengths of 257 symbols): BFINAL, BTYPE 2, the code-length code, then the 257 literal/length
 * code lengths and one distance code of length 1 (no distance is ever sent, but inflaters
 * expect a distance code). Lengths go uncompressed (no repeat codes 16-18): about 130 bytes per
 * block, against the ~200 kB of data each block carries.
 */
export function literalBlockHeader(literalLengths: Uint8Array, final: boolean): BitFields {
  if (literalLengths.length !== END_OF_BLOCK + 1) throw new RangeError(`expected ${END_OF_BLOCK + 1} code lengths, got ${literalLengths.length}`);
  const sequence = [...literalLengths, 1];
  const frequencies = new Array<number>(19).fill(0);
  for (const l of sequence) frequencies[l]!++;
  const lengthLengths = huffmanLengths(frequencies, MAX_CODE_LENGTH_BITS);
  const lengthCodes = canonicalCodes(lengthLengths);
  let listed = 19;
  while (listed > 4 && lengthLengths[CODE_LENGTH_ORDER[listed - 1]!] === 0) listed--;
  const fields: BitFields = [
    [final ? 1 : 0, 1],
    [2, 2], // dynamic Huffman codes
    [0, 5], // 257 literal/length codes
    [0, 5], // 1 distance code
    [listed - 4, 4],
  ];
  for (let i = 0; i < listed; i++) fields.push([lengthLengths[CODE_LENGTH_ORDER[i]!]!, 3]);
  for (const l of sequence) fields.push([lengthCodes[l]!, lengthLengths[l]!]);
  return fields;
}
