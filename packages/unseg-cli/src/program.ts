import { createRequire } from 'node:module';
import { Command, Option } from 'commander';
import { noiseSourceNames, UnsegError } from '@unseg/core';
import { runCommand, type RunCommandOptions } from './commands/run.js';
import { inspectCommand } from './commands/inspect.js';
import { BUILTIN_PLUGINS } from './plugins.js';

const { version } = createRequire(import.meta.url)('../package.json') as { version: string };

const collect = (value: string, previous: string[] = []) => [...previous, ...value.split(',').filter(Boolean)];

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

  program
    .command('run')
    .description('protect a dataset and write shards')
    .argument('<plugin>', `dataset format: ${Object.keys(BUILTIN_PLUGINS).join(', ')}, an npm package name, or a path to a plugin module`)
    .requiredOption('--in <dir>', 'the dataset folder')
    .requiredOption('--out <dir>', 'output folder for shards and manifest.json (a rerun resumes)')
    .option('--split <names>', 'only these splits (repeat or comma-separate); default: all', collect)
    .addOption(
      new Option('--noise <source>', `noise source: ${noiseSourceNames().map((n) => n.name).join(', ')}`).default('unseg'),
    )
    .option('--generator <dir>', 'for --noise unseg: a trained generator folder (default: the bundled generator)')
    .option('--backend <name>', 'for --noise unseg: tfjs backend (auto, tensorflow, wasm, cpu)', 'auto')
    .option('--eps-fg <budget>', 'noise budget inside the prompt (8/255, 0.0314 or 8)', '8/255')
    .option('--eps-bg <budget>', 'noise budget outside the prompt', '2/255')
    .option('--prompt <which>', 'objects that get eps-fg: all (non-crowd), things, or category names/ids, comma-separated', 'all')
    .option('--shard-size <n>', 'samples per shard (by input position)', '100')
    .option('--concurrency <n>', 'images decoded/encoded at once (memory grows with it)', '4')
    .addOption(new Option('--format <format>', 'shard format').choices(['parquet', 'arrow']).default('parquet'))
    .option('--encode <codec>', 'published image codec: png (lossless, default), png:<0-9>, jpeg[:quality] (lossy: weakens the noise)', 'png')
    .option('--limit <n>', 'at most n samples per split (for trials)')
    .option('--seed <n>', 'seed for the random noise sources', '0')
    .option('--shard-index <i>', 'this worker of --shard-count (default from JOB_COMPLETION_INDEX, AWS_BATCH_JOB_ARRAY_INDEX, CLOUD_RUN_TASK_INDEX)')
    .option('--shard-count <n>', 'number of workers sharing the run')
    .addOption(new Option('--progress <kind>', 'progress output').choices(['auto', 'bar', 'json', 'none']).default('auto'))
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  unseg-pipeline run coco --in data/coco --out shards/\n' +
        '  unseg-pipeline run ade20k --in ADEChallengeData2016 --out shards/ --split validation --noise uniform\n' +
        '\nExit status: 0 all published, 2 some samples failed (listed in manifest.json), 1 error, 130 interrupted.',
    )
    .action(async (plugin: string, options: RunCommandOptions) => exit(await runCommand(plugin, options)));

  program
    .command('inspect')
    .description('summarise a folder of shards: splits, rows, failures, schema, noise settings')
    .argument('<dir>', 'an output folder of `run`')
    .option('--json', 'print JSON')
    .action(async (dir: string, options: { json?: boolean }) => exit(await inspectCommand(dir, options)));

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
