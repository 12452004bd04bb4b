import { canonicalCodes, huffmanLengths, literalBlockHeader, MAX_LITERAL_BITS } from './huffman.js';

/** Kraft's sum in units of 2^-maxBits: exactly 2^maxBits for a complete prefix code. */
function kraft(lengths: Uint8Array, maxBits: number): number {
  let sum = 0;
  for (const l of lengths) if (l > 0) sum += 2 ** (maxBits - l);
  return sum;
}

describe('huffmanLengths', () => {
  it('gives the optimal lengths of a small example, and none to unused symbols', () => {
    // weights 1, 1, 2, 4 -> depths 3, 3, 2, 1
    expect([...huffmanLengths([1, 0, 1, 2, 4], 15)]).toEqual([3, 0, 3, 2, 1]);
  });

  it('gives a lone symbol one bit and an empty alphabet nothing', () => {
    expect([...huffmanLengths([0, 7, 0], 15)]).toEqual([0, 1, 0]);
    expect([...huffmanLengths([0, 0], 15)]).toEqual([0, 0]);
  });

  it('keeps every code within the limit and the code complete, for the deepest (Fibonacci) trees', () => {
    const fib = [1, 1];
    while (fib.length < 30) fib.push(fib.at(-1)! + fib.at(-2)!);
    for (const maxBits of [7, 15]) {
      const lengths = huffmanLengths(fib, maxBits);
      // unlimited, the tree would be 29 levels deep
      expect(Math.max(...lengths)).toBeLessThanOrEqual(maxBits);
      expect(kraft(lengths, maxBits)).toBe(2 ** maxBits);
    }
  });

  it('gives complete codes for random frequencies of 257 symbols', () => {
    let s = 12345;
    for (let trial = 0; trial < 20; trial++) {
      const freq = Array.from({ length: 257 }, () => {
        s = (Math.imul(s, 1103515245) + 12345) >>> 0;
        return s % 5 === 0 ? 0 : (s >>> 8) % (trial * 500 + 2);
      });
      const lengths = huffmanLengths(freq, MAX_LITERAL_BITS);
      const used = freq.filter((f) => f > 0).length;
      if (used >= 2) expect(kraft(lengths, MAX_LITERAL_BITS)).toBe(2 ** MAX_LITERAL_BITS);
      expect(Math.max(...lengths)).toBeLessThanOrEqual(MAX_LITERAL_BITS);
      freq.forEach((f, i) => expect(lengths[i]! > 0).toBe(f > 0));
    }
  });
});

describe('canonicalCodes', () => {
  it("matches RFC 1951's example (lengths 3,3,3,3,3,2,4,4), bits reversed for deflate's bit order", () => {
    const codes = canonicalCodes(Uint8Array.from([3, 3, 3, 3, 3, 2, 4, 4]));
    const rfc = ['010', '011', '100', '101', '110', '00', '1110', '1111'];
    rfc.forEach((bits, i) => expect(codes[i]).toBe(parseInt([...bits].reverse().join(''), 2)));
  });
});

describe('literalBlockHeader', () => {
  it('refuses anything but the 257 literal and end-of-block lengths', () => {
    expect(() => literalBlockHeader(new Uint8Array(256), true)).toThrow(RangeError);
  });

  it('starts with BFINAL, BTYPE 2 and 257 literal/length codes, 1 distance code', () => {
    const lengths = huffmanLengths(Array.from({ length: 257 }, (_, i) => i + 1), MAX_LITERAL_BITS);
    const fields = literalBlockHeader(lengths, true);
    expect(fields.slice(0, 4)).toEqual([[1, 1], [2, 2], [0, 5], [0, 5]]);
    expect(literalBlockHeader(lengths, false)[0]).toEqual([0, 1]);
  });
});
