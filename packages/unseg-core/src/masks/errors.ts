import { UnsegError } from '../errors.js';

/**
 * A mask annotation that cannot be decoded exactly (bad RLE counts, bad polygon, size mismatch,
 * unknown segmentation shape). Thrown without a file name: dataset plugins know which file they
 * were reading and wrap it in a SampleError.
 */
export class MaskFormatError extends UnsegError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('MASK_INVALID', message, options);
  }
}
