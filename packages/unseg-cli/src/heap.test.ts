import { publishingHeapFlags, PUBLISHING_HEAP_GROWING_PERCENT } from './heap.js';

describe('publishingHeapFlags', () => {
  it('asks for the larger heap growth when node was started without its own', () => {
    expect(publishingHeapFlags([])).toEqual([`--heap-growing-percent=${PUBLISHING_HEAP_GROWING_PERCENT}`]);
    expect(publishingHeapFlags(['--max-old-space-size=4096', '--enable-source-maps'])).toHaveLength(1);
  });

  it("leaves the user's own setting alone, in either spelling", () => {
    expect(publishingHeapFlags(['--heap-growing-percent=0'])).toEqual([]);
    expect(publishingHeapFlags(['--heap_growing_percent=50'])).toEqual([]);
  });
});
