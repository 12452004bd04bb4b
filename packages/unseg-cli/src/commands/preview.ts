import { promises as fs } from 'node:fs';
import path from 'node:path';
import { ConfigError, SampleError, renderPreview, resolvePromptSelection, type Sample } from '@unseg/core';
import { createNoiseSourceFromOptions, parseNoiseSettings, parseNonNegativeInt, parsePositiveInt, type NoiseCommandOptions } from '../options.js';
import { checkOutputFile } from '../out-path.js';
import { resolvePlugin } from '../plugins.js';
import { datasetRoot } from '../dataset-root.js';

const MAX_PANEL_WIDTH = 4096;

export interface PreviewCommandOptions extends NoiseCommandOptions {
  /** Follow symbolic links leading outside the dataset folder. */
  followSymlinks?: boolean;
  in: string;
  id: string;
  out: string;
  split?: string;
  seed: string;
  width: string;
  gain: string;
}

/** `unseg-pipeline preview`: one picture of one sample, original | protected | noise | prompt. */
export async function previewCommand(pluginSpec: string, o: PreviewCommandOptions): Promise<number> {
  // Every option is read before the dataset is scanned and the noise source loaded.
  if (path.extname(o.out).toLowerCase() !== '.png') throw new ConfigError(`--out ${o.out}: preview writes a PNG; give a file name ending in .png`);
  const panelWidth = parsePositiveInt(o.width, '--width');
  // Four panels side by side: 4096 px each is a 16k-pixel-wide picture already.
  if (panelWidth > MAX_PANEL_WIDTH) throw new ConfigError(`--width ${panelWidth}: at most ${MAX_PANEL_WIDTH} px per panel`);
  const gain = parsePositiveInt(o.gain, '--gain');
  const seed = parseNonNegativeInt(o.seed, '--seed');
  const { budget, prompt } = parseNoiseSettings(o);
  await checkOutputFile(o.out, '--out');
  const plugin = await resolvePlugin(pluginSpec);
  const root = await datasetRoot(plugin, o.in, '--in');
  const reader = await plugin.open(root, { followSymlinks: o.followSymlinks === true });
  const splits = o.split ? [o.split] : await reader.splits();
  let sample: Sample | undefined;
  for (const split of splits) {
    for await (const item of reader.samples(split)) {
      const id = item instanceof SampleError ? item.sampleId : item.id;
      if (id !== o.id) continue;
      if (item instanceof SampleError) throw new ConfigError(`sample ${o.id} cannot be read: ${item.message}`);
      sample = item;
      break;
    }
    if (sample) break;
  }
  if (!sample) throw new ConfigError(`no sample with id ${JSON.stringify(o.id)} in ${splits.join(', ')} of ${root}`);
  const matched = resolvePromptSelection(prompt, await reader.categories(sample.split), root);
  const noise = await createNoiseSourceFromOptions(o, seed);
  try {
    const preview = await renderPreview(sample, {
      noise,
      budget,
      prompt: matched,
      root,
      concurrency: 1,
      panelWidth,
      gain,
      label: `${plugin.name} ${sample.split}/${sample.id}, noise ${o.noise}`,
    });
    await fs.mkdir(path.dirname(path.resolve(o.out)), { recursive: true });
    await fs.writeFile(o.out, preview.png);
    process.stdout.write(`${o.out}: original | protected | noise x${o.gain} | prompt mask\n${preview.caption}\n`);
    return 0;
  } finally {
    await noise.dispose?.();
  }
}
