import v8 from 'node:v8';

/** How much V8 lets the heap grow past its live size before the next full collection, in %. */
export const PUBLISHING_HEAP_GROWING_PERCENT = 300;

/**
 * The V8 flags a publishing run sets on itself: none when node was started with its own
 * `--heap-growing-percent`. Why: each image sends ~15 MB of short-lived buffers (sharp's pixels,
 * the PNG bytes) past a JavaScript heap of only ~20 MB, and V8 scheduled its next full
 * collection from that small heap, so it ran one every two images or so. Letting the heap grow
 * 4x took 200 images from about 100 mark-compacts to 34, for ~10 % less CPU per image and
 * 30-40 MiB more peak RSS (tools/bench-throughput/README.md, "A PNG encoder of our own").
 */
export function publishingHeapFlags(execArgv: readonly string[]): string[] {
  const own = execArgv.some((f) => /^--heap[-_]growing[-_]percent\b/.test(f));
  return own ? [] : [`--heap-growing-percent=${PUBLISHING_HEAP_GROWING_PERCENT}`];
}

/**
 * Applies publishingHeapFlags to this process. V8 reads this flag each time it sizes the heap
 * after a collection, so setting it at run time takes effect (measured: the collection count
 * above); node starts no second process for it.
 */
export function tunePublishingHeap(): void {
  for (const flag of publishingHeapFlags(process.execArgv)) v8.setFlagsFromString(flag);
}
