import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';
import type * as errors from './errors.js';
import { ConfigError, SampleError, UnsegError } from './errors.js';

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

describe('errors from another copy of @unseg/core', () => {
  // What a plugin with its own installed copy of @unseg/core throws or yields: the same classes,
  // loaded from another file.
  let copy: typeof errors;
  let dir: string;
  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'unseg-core-copy-'));
    // Compiled from the source here, not copied from dist/, which may be stale or absent.
    const source = await fs.readFile(path.join(path.dirname(fileURLToPath(import.meta.url)), 'errors.ts'), 'utf8');
    const { outputText } = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } });
    await fs.writeFile(path.join(dir, 'errors.mjs'), outputText);
    copy = (await import(pathToFileURL(path.join(dir, 'errors.mjs')).href)) as typeof errors;
  });
  afterAll(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('are recognised by instanceof, class by class', () => {
    expect(copy.SampleError).not.toBe(SampleError);
    const sample = new copy.SampleError('a.png', 'truncated', { sampleId: 'a' });
    expect(sample instanceof SampleError).toBe(true);
    expect(sample instanceof UnsegError).toBe(true);
    expect(sample instanceof ConfigError).toBe(false);
    expect((sample as SampleError).reason).toBe('truncated');
    const config = new copy.ConfigError('bad option');
    expect(config instanceof ConfigError).toBe(true);
    expect(config instanceof SampleError).toBe(false);
  });

  it('does not take an unbranded error of the same name for one', () => {
    class SampleErrorLookalike extends Error {}
    Object.defineProperty(SampleErrorLookalike, 'name', { value: 'SampleError' });
    expect(new SampleErrorLookalike('x') instanceof SampleError).toBe(false);
    expect(new Error('x') instanceof UnsegError).toBe(false);
    expect((null as unknown) instanceof SampleError).toBe(false);
  });
});
