/** Base class of every error unseg throws on purpose; `code` is stable for programs to match on. */
export class UnsegError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/**
 * A problem with one input sample (image or annotation). The engine records it, skips the
 * sample and goes on. `file` names the file that is wrong.
 */
export class SampleError extends UnsegError {
  readonly file: string;
  readonly sampleId: string | undefined;
  constructor(file: string, reason: string, options?: { sampleId?: string; code?: string; cause?: unknown }) {
    super(options?.code ?? 'SAMPLE_INVALID', `${file}: ${reason}`, { cause: options?.cause });
    this.file = file;
    this.sampleId = options?.sampleId;
  }
  get reason(): string {
    return this.message.slice(this.file.length + 2);
  }
}

/** The run's setup is wrong (bad option, plugin contract mismatch, missing model): fail before data flows. */
export class ConfigError extends UnsegError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('CONFIG', message, options);
  }
}
