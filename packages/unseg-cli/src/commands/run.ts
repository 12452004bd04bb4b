import path from 'node:path';
import {
  ConfigError,
  DEFAULT_JPEG_QUALITY,
  combineListeners,
  describePromptSelection,
  runDataset,
  type EncodeOptions,
  type PipelineListener,
} from '@unseg/core';
import {
  createNoiseSourceFromOptions,
  formatEps,
  parseNoiseSettings,
  parseNonNegativeInt,
  parsePositiveInt,
  type NoiseCommandOptions,
} from '../options.js';
import { tunePublishingHeap } from '../heap.js';
import { checkOutputLayout, layoutOf } from '../layout.js';
import { checkOutputFolder } from '../out-path.js';
import { pluginSource, resolvePlugin } from '../plugins.js';
import { datasetRoot } from '../dataset-root.js';
import { jsonLinesProgress, terminalProgress } from '../progress.js';
import { SUPERVISED_VARIABLE, workerFromEnvironment } from '../worker.js';

export interface RunCommandOptions extends NoiseCommandOptions {
  /** Follow symbolic links leading outside the dataset folder. */
  followSymlinks?: boolean;
  in: string;
  out: string;
  split?: string[];
  shardSize: string;
  concurrency: string;
  format: string;
  encode: string;
  limit?: string;
  seed: string;
  shardIndex?: string;
  shardCount?: string;
  /** Handled before runCommand (run-workers.ts): runCommand is one worker. */
  workers: string;
  progress: string;
}

/** `unseg-pipeline run <plugin> --in <dir> --out <dir>`; returns the process exit code. */
export async function runCommand(pluginSpec: string, o: RunCommandOptions): Promise<number> {
  tunePublishingHeap();
  const out = path.resolve(o.out);
  const worker = workerFromEnvironment(o.shardIndex, o.shardCount, process.env);
  // Before the plugin and the noise source load: a folder that cannot be written, or that
  // another layout began, is known at once and nothing is written into it.
  await checkOutputFolder(out, '--out');
  await checkOutputLayout(out, layoutOf(worker));
  const plugin = await resolvePlugin(pluginSpec);
  const source = pluginSource(pluginSpec);
  const root = await datasetRoot(plugin, o.in, '--in');
  const { budget, prompt } = parseNoiseSettings(o);
  const format = o.format;
  if (format !== 'parquet' && format !== 'arrow') throw new ConfigError(`--format ${format}: expected parquet or arrow`);
  const encode = parseEncode(o.encode);
  const seed = Number(o.seed);
  if (!Number.isInteger(seed)) throw new ConfigError(`--seed ${o.seed}: expected an integer`);
  // Parsed before anything is loaded or printed, so that a bad number fails at once.
  const shardSize = parsePositiveInt(o.shardSize, '--shard-size');
  const limit = o.limit === undefined ? undefined : parseNonNegativeInt(o.limit, '--limit');
  const concurrency = parsePositiveInt(o.concurrency, '--concurrency');
  const reader = await plugin.open(root, { followSymlinks: o.followSymlinks === true });
  const noise = await createNoiseSourceFromOptions(o, seed);
  const useTty = o.progress === 'auto' ? Boolean(process.stderr.isTTY) : o.progress === 'bar';
  const log = (line: string) => process.stderr.write(`${line}\n`);
  if (encode.format === 'jpeg') {
    // Measured on the bundled sample (its four images, +-2/255 noise): JPEG's own rounding moved some
    // pixel by 8-24/255 at every quality from 75 to 100, beyond the default budgets.
    log(
      'warning: --encode jpeg is lossy: JPEG moves single pixels by about 8-24/255 whatever the quality (4:2:0 chroma), ' +
        'so with budgets below that most images break the budget and are not written. Use PNG (the default) to publish protection intact.',
    );
  }
  log(`unseg: ${plugin.name} ${root} -> ${out}`);
  log(`noise: ${noise.description}; budget fg ${formatEps(budget.epsFg)}, bg ${formatEps(budget.epsBg)}; prompt ${describePromptSelection(prompt)}`);
  if (worker) log(`worker ${worker.index + 1} of ${worker.count} (--shard-index ${worker.index} --shard-count ${worker.count})`);
  // Said where a publisher who never opened the README will see it: the default runs, but the
  // efficacy benchmark has not yet seen it protect.
  if (o.noise === 'unseg' && o.generator === undefined) {
    log('note: the bundled generator has not yet protected a dataset in the efficacy benchmark (README, "Does it work?"); --noise classwise --pattern grating (needs class labels), --pattern codes with codes from train-codes --binary (labels, and labelled images to learn from) and --noise grating (no labels) are the options that protected there (README, "Choosing the noise")');
  }
  if (noise.needsLabels) {
    // A class-wise code tells classes apart; with one class it is one pattern on every object.
    // One split at a time, stopping at a second class: a reader may hold one split's annotations at once.
    const splits = o.split && o.split.length > 0 ? o.split : await reader.splits();
    const classes = new Set<number>();
    for (const split of splits) {
      for (const c of await reader.categories(split).catch(() => [])) classes.add(c.id);
      if (classes.size > 1) break;
    }
    if (classes.size <= 1) {
      log(`note: --noise ${o.noise} codes each class apart, but ${root} has ${classes.size === 0 ? 'no categories' : 'one category'}: every object gets the same pattern`);
    }
  }
  const progress: PipelineListener =
    o.progress === 'none'
      ? {}
      : useTty
        ? terminalProgress(process.stderr)
        : jsonLinesProgress((line) => process.stdout.write(`${line}\n`));
  // A prompt that selects nothing (a category the objects do not carry, a plugin whose objects
  // are named otherwise than its categories()) leaves every image with only the background budget.
  const promptCover = { images: 0, covered: 0 };
  const listener = combineListeners(progress, {
    onPublished: (r) => {
      promptCover.images++;
      if (r.noise.promptFraction > 0) promptCover.covered++;
    },
  });
  const controller = new AbortController();
  // SIGTERM is what job runners (and `run --workers`) send before they kill: it ends the run as
  // Ctrl-C does, after the shard in flight; the same signal again stops at once.
  const onSignal = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) process.exit(130);
    log(`\n${signal === 'SIGINT' ? 'interrupted' : signal}: finishing the shard in flight, then stopping (press Ctrl-C again to stop now)`);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // A worker of `run --workers` whose parent died (its stdin pipe ends) stops the same way,
  // rather than running on unsupervised.
  const onParentGone = () => {
    if (controller.signal.aborted) return;
    log('the parent of this worker is gone: finishing the shard in flight, then stopping');
    controller.abort();
  };
  const supervised = process.env[SUPERVISED_VARIABLE] === '1';
  if (supervised) {
    process.stdin.on('end', onParentGone);
    process.stdin.on('error', onParentGone);
    process.stdin.resume();
    // Listening must not keep a finished run alive.
    (process.stdin as { unref?: () => void }).unref?.();
  }
  try {
    const summary = await runDataset({
      reader,
      outDir: out,
      splits: o.split && o.split.length > 0 ? o.split : undefined,
      shardSize,
      format,
      limit,
      worker,
      noise,
      budget,
      prompt,
      encode,
      concurrency,
      root,
      listener,
      signal: controller.signal,
      runInfo: { plugin: plugin.name, ...(source ? { pluginSource: source } : {}), pluginVersion: plugin.version, input: root, noise: o.noise, seed, prompt: describePromptSelection(prompt) },
    });
    const rate = summary.published / Math.max(1e-9, summary.seconds);
    log(
      `done: ${summary.published} images published, ${summary.failed} failed, ${summary.skipped} already done (resumed), ` +
        `${summary.seconds.toFixed(1)} s, ${rate.toFixed(2)} img/s`,
    );
    const converted = Object.entries(summary.conversions ?? {});
    if (converted.length > 0) {
      log(`converted to 8-bit sRGB RGB: ${converted.map(([what, n]) => `${what}: ${n}`).join(', ')} (masks stay on the stored pixel grid)`);
    }
    for (const f of summary.failures.slice(0, 20)) log(`  failed: ${f.file}: ${f.reason}`);
    if (summary.failures.length > 20) log(`  ... and ${summary.failures.length - 20} more (see manifest.json)`);
    if (summary.failedBefore > 0) {
      log(`  and ${summary.failedBefore} failed in an earlier run of this folder (in shards it completed; listed in manifest.json): fix them and publish them into a new folder, or accept them`);
    }
    if (promptCover.images > 0 && promptCover.covered === 0) {
      log(
        `warning: the prompt (${describePromptSelection(prompt)}) covered no pixel of the ${promptCover.images} image(s) published by this run: ` +
          `they carry only the background budget (${formatEps(budget.epsBg)}). Check --prompt against the categories that \`inspect\` lists, ` +
          "or, for a third-party plugin, that its objects' categories match its categories()",
      );
    }
    log(`output: ${summary.outDir} (manifest.json lists every shard and failure)`);
    if (summary.interrupted) return 130;
    // A manifest that could not be written is a failure with no sample attached; samples an
    // earlier run failed are still unpublished, so a rerun with nothing left to do exits 2 too.
    return summary.failed > 0 || summary.failures.length > 0 || summary.failedBefore > 0 ? 2 : 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (supervised) {
      process.stdin.off('end', onParentGone);
      process.stdin.off('error', onParentGone);
    }
    await noise.dispose?.();
  }
}

function parseEncode(text: string): EncodeOptions {
  const m = /^(png|jpeg|jpg)(?::(\d+))?$/.exec(text.trim());
  if (!m) throw new ConfigError(`--encode ${text}: expected png, png:<level 0-9>, jpeg or jpeg:<quality 1-100>`);
  const n = m[2] === undefined ? undefined : Number(m[2]);
  if (m[1] === 'png') {
    if (n !== undefined && n > 9) throw new ConfigError(`--encode ${text}: PNG level must be 0-9`);
    return n === undefined ? { format: 'png' } : { format: 'png', compressionLevel: n };
  }
  if (n !== undefined && (n < 1 || n > 100)) throw new ConfigError(`--encode ${text}: JPEG quality must be 1-100`);
  return { format: 'jpeg', quality: n ?? DEFAULT_JPEG_QUALITY };
}
