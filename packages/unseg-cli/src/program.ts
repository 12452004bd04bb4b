import { createRequire } from 'node:module';
import { Command, Option } from 'commander';
import { CLASSWISE_PATTERNS, noiseSourceNames, UnsegError } from '@unseg/core';
import type { BackendName } from '@unseg/core/generator';
import { runCommand, type RunCommandOptions } from './commands/run.js';
import { parseWorkers, runWorkersCommand } from './commands/run-workers.js';
import { inspectCommand } from './commands/inspect.js';
import { verifyCommand, type VerifyCommandOptions } from './commands/verify.js';
import { trainCommand, type TrainCommandOptions } from './commands/train.js';
import { trainCodesCommand, type TrainCodesCommandOptions } from './commands/train-codes.js';
import { mergeManifestCommand, type MergeManifestOptions } from './commands/merge-manifest.js';
import { BUILTIN_PLUGINS } from './plugins.js';
import { exportCommand, type ExportCommandOptions } from './commands/export.js';
import { previewCommand, type PreviewCommandOptions } from './commands/preview.js';

const { version } = createRequire(import.meta.url)('../package.json') as { version: string };

const collect = (value: string, previous: string[] = []) => [...previous, ...value.split(',').filter(Boolean)];
const collectSpec = (value: string, previous: string[] = []) => [...previous, value];

/**
 * selectBackend's names. Anything else used to fall through to 'auto' silently (wasm here), so
 * commander refuses it. The type check below fails when @unseg/core adds a name not listed.
 */
export const BACKEND_NAMES = ['auto', 'tensorflow', 'wasm', 'cpu'] as const satisfies readonly BackendName[];
const _everyBackendListed: [Exclude<BackendName, (typeof BACKEND_NAMES)[number]>] extends [never] ? true : never = true;
void _everyBackendListed;

const backendOption = (description: string) => new Option('--backend <name>', description).choices(BACKEND_NAMES).default('auto');

/** The noise options, shared by `run` and `preview` so that both read them the same way. */
function withNoiseOptions(command: Command): Command {
  return command
    .addOption(new Option('--noise <source>', `noise source: ${noiseSourceNames().map((n) => n.name).join(', ')}`).default('unseg'))
    .option('--generator <dir>', 'for --noise unseg: a trained generator folder (default: the bundled generator)')
    .addOption(backendOption('for --noise unseg: tfjs backend'))
    .option('--cell-size <px>', "for --noise classwise: the pattern's cell size in pixels (default 32 for cells, the image's size or more: one flat colour per class; the stripe width for --pattern grating, default 16); for --pattern codes: the code's cell (default: the file's cellSize); for --noise grating: the stripe width (default 8)")
    .addOption(
      new Option(
        '--pattern <kind>',
        'for --noise classwise: cells (random signs, default), grating (stripes --cell-size px wide, one orientation and colour per class) or codes (learned class codes from --codes)',
      ).choices(CLASSWISE_PATTERNS),
    )
    .option(
      '--codes <file>',
      'for --noise classwise --pattern codes: a class-codes file, JSON {"format": "unseg-class-codes", "version": 1, "cellSize": image px per cell, ' +
        '"codes": one [3][rows][cols] tile of directions in [-1, 1] per code (category id l gets code (l-1) mod the number of codes), ' +
        '"background": an optional tile for pixels of no category (scaled by --eps-bg)}; tools/bench-efficacy/torch/em_bound.py --classwise-tile writes one; --cell-size rescales its cells',
    )
    .option('--eps-fg <budget>', 'noise budget inside the prompt: 8/255, or a number of 8-bit steps (8, also 1.5), or below 1 a fraction of the range (0.0314)', '8/255')
    .option('--eps-bg <budget>', 'noise budget outside the prompt', '2/255')
    .option('--prompt <which>', 'objects that get eps-fg: all (non-crowd), things, or category names/ids, comma-separated', 'all');
}

/**
 * The arguments after the program name (`run coco --in ...`), as given: the workers of
 * `--workers` get them back unchanged. Commander keeps them in `rawArgs`, which it sets on
 * every parse but leaves out of its typings.
 */
function runArguments(command: Command): string[] {
  const raw = (command.parent as (Command & { rawArgs?: unknown }) | null)?.rawArgs;
  if (!Array.isArray(raw)) throw new Error('commander did not keep the raw arguments (rawArgs): cannot start --workers');
  return (raw as string[]).slice(2);
}

/** Builds the `unseg-pipeline` command; `exit` receives the exit code of the action. */
export function buildProgram(exit: (code: number) => void): Command {
  const program = new Command('unseg-pipeline')
    .description(
      'Protect a segmentation dataset: add small, budget-bounded noise guided by its masks, so that a ' +
        'model trained on the published copy learns the noise instead of the objects (UnSeg, NeurIPS 2024). ' +
        'Output: Parquet (or Arrow) shards that DuckDB, pyarrow and Hugging Face datasets open as they are.',
    )
    .version(version)
    .showHelpAfterError('(run with --help for usage)');

  withNoiseOptions(
    program
      .command('run')
    .description('protect a dataset and write shards')
    .argument('<plugin>', `dataset format: ${Object.keys(BUILTIN_PLUGINS).join(', ')}, an npm package name, or a path to a plugin module`)
    .requiredOption('--in <dir>', 'the dataset folder')
    .option('--follow-symlinks', 'follow symbolic links that lead outside the dataset folder (a Hugging Face or DVC cache links its files into a blob store); refused by default')
    .requiredOption('--out <dir>', 'output folder for shards and manifest.json (a rerun resumes)')
      .option('--split <names>', 'only these splits (repeat or comma-separate); default: all', collect),
  )
    .option('--shard-size <n>', 'samples per shard (by input position)', '100')
    .option('--concurrency <n>', 'images decoded/encoded at once (memory grows with it)', '4')
    .addOption(new Option('--format <format>', 'shard format').choices(['parquet', 'arrow']).default('parquet'))
    .option('--encode <codec>', 'published image codec: png (lossless, default; Huffman-only deflate), png:<0-9> (zlib level with string matching: smaller clean images, slower), jpeg[:quality] (lossy: weakens the noise, and its rounding of 8-24/255 on single pixels breaks budgets below that, so those images are not written)', 'png')
    .option('--limit <n>', 'at most n samples per split (for trials)')
    .option('--seed <n>', 'seed for the random noise sources', '0')
    .option('--shard-index <i>', 'this worker of --shard-count (default from JOB_COMPLETION_INDEX, AWS_BATCH_JOB_ARRAY_INDEX, CLOUD_RUN_TASK_INDEX)')
    .option('--shard-count <n>', 'number of workers sharing the run')
    .option('--workers <n>', 'local worker processes, each a shard of the run, merged at the end (auto: one per CPU; each holds its own generator, ~0.75 GiB)', '1')
    .addOption(new Option('--progress <kind>', 'progress output').choices(['auto', 'bar', 'json', 'none']).default('auto'))
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  unseg-pipeline run coco --in data/coco --out shards/\n' +
        '  unseg-pipeline run ade20k --in ADEChallengeData2016 --out shards/ --split validation --noise uniform\n' +
        '  unseg-pipeline run coco --in data/coco --out shards/ --workers auto     # every core of a large machine\n' +
        '\nExit status: 0 all published, 2 some samples failed (listed in manifest.json), 1 error, 130 interrupted.',
    )
    .action(async (plugin: string, options: RunCommandOptions, command: Command) => {
      const workers = parseWorkers(options.workers);
      exit(workers > 1 ? await runWorkersCommand(runArguments(command), workers, options) : await runCommand(plugin, options));
    });

  program
    .command('train')
    .description('train a noise generator (bilevel min-min against a from-scratch surrogate) and write it to a folder')
    .requiredOption('--data <plugin:dir[@split]>', 'training data, repeatable: sa1b:<dir>, coco:<dir>@train (held-out splits are skipped unless named)', collectSpec)
    .requiredOption('--out <dir>', 'generator folder (model.json, weights, generator.json, train-log.jsonl, checkpoint/): new or empty, or a training folder with --resume')
    .option('--seed <n>', 'random seed (the run is deterministic for a seed and backend)', '1')
    .option('--epochs <n>', 'epochs in all, counting those of earlier runs of --out (each one pass over the images, or --steps-per-epoch steps)', '100')
    .option('--resume', "continue from <out>/checkpoint with the same settings and the same data (compared by content: the data may have moved; without --resume an --out holding a generator or checkpoint is refused)")
    .addOption(backendOption('tfjs backend (a resume may use another)'))
    .option('--size <px>', 'working resolution (square side) of G and S: a multiple of 4, at least 16', '128')
    .option('--batch <n>', 'batch size', '8')
    // The defaults below are PAPER_OPTIONS' (train.test.ts checks that they agree).
    .option('--lr-g <lr>', 'generator Adam learning rate (the paper; the shipped default generator: 1e-3)', '1e-4')
    .option('--lr-s <lr>', 'surrogate Adam learning rate (the paper; the shipped default generator: 1e-3)', '1e-4')
    .option('--mean-penalty <w>', "weight of the penalty on the squared per-image channel means of G's noise, against a colour-tint collapse (the shipped default generator: 10)", '0')
    .option('--no-lm', 'ablation: no label modification (G steps use the true mask, not all ones)')
    .option('--no-eg', 'ablation: no epsilon generalisation (train at the generation budget 8/255, 2/255)')
    .option('--train-eps-fg <budget>', 'training budget inside the prompt, with EG', '1/255')
    .option('--train-eps-bg <budget>', 'training budget outside the prompt, with EG', '0.25/255')
    .option('--schedule <spec>', 'epoch:S:G or step:S:G: S units train the surrogate, then G units the generator (the paper: 1 of every 4 epochs trains S; the shipped default generator: step:1:1)', 'epoch:1:3')
    .option('--warmup <steps>', 'surrogate-only steps before alternation starts (the shipped default generator: 120)', '0')
    .option('--prompts <weights>', 'surrogate prompt mix', 'points=0.7,box=0.2,mask=0.1')
    .option('--no-rescale', 'do not rescale x + noise randomly before the surrogate')
    .option('--photometric', 'jitter brightness, contrast, saturation and hue of x + noise before the surrogate')
    .addOption(new Option('--noise-channels <kind>', "G's noise: rgb (three channels) or luma (one grey channel, kept by hue/saturation jitter and grayscale)").choices(['rgb', 'luma']).default('rgb'))
    .option('--carrier <px>', "G's output multiplies a fixed +-1 stripe texture this many working pixels wide, made at the image's own size (default: none)")
    .option('--max-minutes <m>', 'stop after m minutes at a step boundary, saving a checkpoint that --resume continues from the next step, mid-epoch too (default: no limit)')
    .option('--max-images <n>', 'use at most n images: the first n usable ones, in --data order (default: all)')
    .option('--steps-per-epoch <n>', 'steps per epoch (default: one pass over the images)')
    .option('--diag-every <n>', 'log the diagnostic every n steps (0: never)', '10')
    .addHelpText(
      'after',
      '\nThe shipped default generator (packages/unseg-core/models/default/CARD.md):\n' +
        '  unseg-pipeline train --data sa1b:../shared/data/sa1b-facades --out out/train-default --seed 1 --epochs 1000 --max-minutes 38 \\\n' +
        '      --lr-g 1e-3 --lr-s 1e-3 --mean-penalty 10 --warmup 120 --schedule step:1:1\n' +
        '\nCtrl-C or SIGTERM saves a checkpoint after the step in flight and stops (again: at once, back to the last checkpoint);\n' +
        '--resume then continues from the next step, as --max-minutes does.\n' +
        '\nExit status: 0 trained (or stopped by --max-minutes, which it says), 1 error (bad option, --out misuse, changed data\n' +
        'or settings on --resume, training diverged), 130 stopped by a signal.',
    )
    .action(async (options: TrainCommandOptions) => exit(await trainCommand(options)));

  program
    .command('train-codes')
    .description('learn a class-codes file (one noise tile per category) by min-min against a from-scratch semantic segmenter, for run --noise classwise --pattern codes')
    .requiredOption('--data <plugin:dir[@split]>', 'labelled training data, repeatable: coco:<dir>@test, ade20k:<dir>@training (held-out splits are skipped unless named)', collectSpec)
    .requiredOption('--out <file>', 'the class-codes JSON to write (replaced whole when the run ends, never half-written)')
    .option('--seed <n>', 'random seed (the run is deterministic for a seed and backend)', '1')
    .addOption(backendOption('tfjs backend'))
    .option('--size <px>', 'working resolution: images and labels resized to this square', '128')
    .option('--batch <n>', 'batch size', '8')
    .option('--rounds <n>', 'min-min rounds: --model-steps surrogate steps, then one pass of code steps over every image', '30')
    .option('--model-steps <n>', 'surrogate steps per round', '10')
    .option('--tile <cells>', 'cells per side of each code tile', '8')
    .option('--cell <px>', 'working pixels per cell', '2')
    .option('--publish-cell <px>', "the file's cellSize: image pixels per cell when published; auto: --cell x the images' median side / --size, the scale the codes were learned at (16 for --cell 2 at 128 px on 1024-px images)", 'auto')
    .option('--crop <px>', 'crop the surrogate sees after the random rescale', '96')
    .option('--scale <min-max>', 'random rescale of each batch, as factors of --size (trainers resize by 0.5-2)', '0.5-2')
    .option('--no-photometric', 'no brightness / contrast / saturation / hue jitter before the surrogate')
    .option('--no-zero-mean', "codes keep their mean colour (by default each code's mean is removed per channel: a flat tint per class is what a grey conversion or colour jitter removes)")
    .option('--achromatic', 'the same value on R, G and B: brightness-only codes, which a grey conversion keeps and JPEG chroma subsampling does not touch', false)
    .option('--binary', 'every code value +1 or -1 (half each way per code): the whole budget on every class, the pattern learned straight-through', false)
    .option('--grey <share>', "share of the crops turned grey before the surrogate sees them (0-1), so that the min-min meets a trainer's grey conversion (on the facades it did not make the codes survive one: see tools/bench-efficacy/torch/README.md)", '0')
    .option('--eps-fg <budget>', 'budget inside the objects, as published', '8/255')
    .option('--eps-bg <budget>', 'budget outside them', '2/255')
    .option('--step <x>', 'signed step on a code value per batch, in direction units ([-1, 1])', '0.025')
    .option('--lr <lr>', 'surrogate Adam learning rate', '1e-3')
    .option('--widths <list>', 'surrogate U-Net channels per level', '16,32,64')
    .option('--max-minutes <m>', 'stop, and write the codes, when the next round would end past m minutes of this invocation (a --resume gets m more) (default: no limit)')
    .option('--max-images <n>', 'use at most n images (default: all)')
    .option('--checkpoint <dir>', "where the run's state is saved after every round (default: --out's path + .checkpoint); a run holds <dir>.lock while it trains, so a second run on it is refused")
    .option('--resume', 'continue the checkpoint: a killed run where it stopped, or a finished one up to a larger --rounds (the other settings and the data must be the same)', false)
    .addHelpText(
      'after',
      '\nExample (codes learned on the images you publish, then published with; on the facades this protected most, see tools/bench-efficacy/torch/README.md):\n' +
        '  unseg-pipeline train-codes --data coco:data@train --out codes.json --binary --model-steps 40 --max-minutes 55\n' +
        '  unseg-pipeline run coco --in data --split train --out shards/ --noise classwise --pattern codes --codes codes.json\n' +
        '\nCtrl-C or SIGTERM stops after the step in flight and writes the codes learned so far, once a round has ended (again: at once, no codes written);\n' +
        'either way the checkpoint holds the last finished round, and --resume continues from it.\n' +
        'Exit status: 0 written, 1 error, 130 stopped by a signal.',
    )
    .action(async (options: TrainCodesCommandOptions) => exit(await trainCodesCommand(options)));

  program
    .command('inspect')
    .description('summarise a folder of shards: splits, rows, failures, schema, noise settings')
    .argument('<dir>', 'an output folder of `run`')
    .option('--json', 'print JSON')
    .action(async (dir: string, options: { json?: boolean }) => exit(await inspectCommand(dir, options)));

  program
    .command('verify')
    .description('check a shard folder before publishing: the run finished, shards vs stats and manifest (rows, sha256), every sample of the original published or recorded as failed, every image vs its original (budget per region)')
    .argument('<shards>', 'an output folder of `run`')
    .requiredOption('--against <dir>', 'the original dataset the shards were made from')
    .option('--follow-symlinks', 'follow symbolic links that lead outside the dataset folder (a Hugging Face or DVC cache links its files into a blob store); refused by default')
    .option('--plugin <name>', 'dataset format (default: the plugin recorded in manifest.json)')
    .option('--eps-fg <budget>', 'budget inside the prompt (default: from manifest.json; a tighter one checks against it)')
    .option('--eps-bg <budget>', 'budget outside the prompt (default: from manifest.json)')
    .option('--json', 'print the report as JSON')
    .addHelpText('after', '\nExit status: 0 nothing wrong, 2 problems found (listed), 1 error.')
    .action(async (dir: string, options: VerifyCommandOptions) => exit(await verifyCommand(dir, options)));

  program
    .command('merge-manifest')
    .description('join the output folders of a sharded run (--shard-index/--shard-count) into one folder with one manifest.json')
    .argument('<dirs...>', 'the workers\' output folders (one shared folder is fine)')
    .requiredOption('--out <dir>', 'the merged folder: shards are hard-linked (copied across file systems); may be one of <dirs>')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', '\nExit status: 0 merged and complete, 2 merged but workers are missing or unfinished (listed), 1 error.')
    .action(async (dirs: string[], options: MergeManifestOptions) => exit(await mergeManifestCommand(dirs, options)));

  program
    .command('export')
    .description("write a run's protected dataset in the input's own layout (COCO JSON + PNGs, ADE20K images/ + annotations/, SA-1B sa_*/)")
    .argument('<shards>', 'an output folder of `run`')
    .requiredOption('--out <dir>', 'the export folder (created; must be empty)')
    .option('--original <dir>', 'the original dataset, for the annotations the shards do not hold (default: the run\'s --in, from manifest.json)')
    .option('--from-shards', 'rebuild the annotations from the shards alone, without the original')
    .option('--follow-symlinks', 'follow symbolic links that lead outside the original dataset folder (as run --follow-symlinks)')
    .option('--plugin <name>', 'dataset format (default: the plugin recorded in manifest.json)')
    .option('--split <names>', 'only these splits (repeat or comma-separate)', collect)
    .option('--json', 'print the report as JSON')
    .action(async (dir: string, options: ExportCommandOptions) => exit(await exportCommand(dir, options)));

  withNoiseOptions(
    program
      .command('preview')
    .description('one picture of one sample: original | protected | noise amplified | prompt mask, with budget and PSNR')
    .argument('<plugin>', 'dataset format, as for run')
    .requiredOption('--in <dir>', 'the dataset folder')
    .option('--follow-symlinks', 'follow symbolic links that lead outside the dataset folder (a Hugging Face or DVC cache links its files into a blob store); refused by default')
    .requiredOption('--id <id>', 'the sample id')
    .requiredOption('--out <file>', 'the PNG to write')
      .option('--split <name>', 'the split to look in (default: all)'),
  )
    .option('--seed <n>', 'seed for the random noise sources', '0')
    .option('--width <px>', 'width of each panel', '256')
    .option('--gain <n>', 'noise amplification in the third panel (127 + gain * delta)', '16')
    .action(async (plugin: string, options: PreviewCommandOptions) => exit(await previewCommand(plugin, options)));

  program
    .command('noise')
    .description('list the noise sources')
    .action(() => {
      for (const n of noiseSourceNames()) process.stdout.write(`${n.name.padEnd(10)} ${n.describe}\n`);
      exit(0);
    });

  program
    .command('plugins')
    .description('list the built-in dataset plugins')
    .action(() => {
      for (const p of Object.values(BUILTIN_PLUGINS)) {
        process.stdout.write(`${p.name.padEnd(8)} ${p.version.padEnd(8)} contract ${p.contract}  ${p.description ?? ''}\n`);
      }
      exit(0);
    });

  return program;
}

/** Runs the CLI; errors of the user's making print one clear line, not a stack. */
export async function main(argv: string[]): Promise<number> {
  let code = 0;
  const program = buildProgram((c) => (code = c));
  try {
    await program.parseAsync(argv);
    return code;
  } catch (error) {
    if (error instanceof UnsegError) {
      process.stderr.write(`unseg-pipeline: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}
