#!/usr/bin/env node
import { main } from './program.js';

// A closed stdout (`| head`, a log shipper that died) must not abort a long run: the run goes
// on without its progress lines, and says so once.
let stdoutClosed = false;
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE' && error.code !== 'ERR_STREAM_DESTROYED') throw error;
  if (!stdoutClosed) process.stderr.write('unseg-pipeline: stdout was closed; going on without it\n');
  stdoutClosed = true;
});

// The same for stderr (a worker of `run --workers` whose parent died): the run's state is on
// disk, not in its log.
process.stderr.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE' && error.code !== 'ERR_STREAM_DESTROYED') throw error;
});

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`unseg-pipeline: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  },
);
