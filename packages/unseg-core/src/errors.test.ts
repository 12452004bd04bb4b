import { SampleError, UnsegError } from './errors.js';

describe('SampleError', () => {
  it('names the file first and keeps the reason separately', () => {
    const e = new SampleError('train/a.jpg', 'truncated JPEG', { sampleId: 'a' });
    expect(e).toBeInstanceOf(UnsegError);
    expect(e.message).toBe('train/a.jpg: truncated JPEG');
    expect(e.reason).toBe('truncated JPEG');
    expect(e.code).toBe('SAMPLE_INVALID');
    expect(e.name).toBe('SampleError');
  });
});
