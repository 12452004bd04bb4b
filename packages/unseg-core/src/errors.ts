/**
 * Marks errors made by any copy of @unseg/core. A plugin developed with `npm link`, or one that
 * installed its own @unseg/core, constructs its SampleErrors from another copy of these classes,
 * which a plain `instanceof` would not recognise: the engine would then take a yielded
 * SampleError for a malformed sample, or a ConfigError for a crash.
 */
const BRAND = Symbol.for('@unseg/core:error');

/** Base class of every error unseg throws on purpose; `code` is stable for programs to match on. */
export class UnsegError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }

  /**
   * `x instanceof SampleError` (or any subclass) also holds for an error made by another copy of
   * @unseg/core: one carrying the brand whose class chain has a class of the same name.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (Function.prototype[Symbol.hasInstance].call(this, value)) return true;
    if (typeof value !== 'object' || value === null || !(BRAND in value)) return false;
    for (let proto = Object.getPrototypeOf(value) as object | null; proto !== null; proto = Object.getPrototypeOf(proto) as object | null) {
      const ctor = Object.hasOwn(proto, 'constructor') ? (proto as { constructor: unknown }).constructor : undefined;
      if (typeof ctor === 'function' && ctor.name === this.name) return true;
    }
    return false;
  }
}
Object.defineProperty(UnsegError.prototype, BRAND, { value: true });

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
