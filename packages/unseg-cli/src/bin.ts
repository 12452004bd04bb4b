#!/usr/bin/env node
import { main } from './program.js';

// A closed stdout (`| head`, a log shipper that died) or stderr (a worker of `run --workers`
// whose parent died) must not abort a long run: its state is on disk, not in its output. The
// run goes on without the stream, and says so once when it is stdout.
function goOnWithout(stream: NodeJS.WriteStream, notice?: string): void {
  let closed = false;
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE' && error.code !== 'ERR_STREAM_DESTROYED') throw error;
    if (!closed && notice) process.stderr.write(notice);
    closed = true;
  });
}
goOnWithout(process.stdout, 'unseg-pipeline: stdout was closed; going on without it\n');
goOnWithout(process.stderr);

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`unseg-pipeline: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  },
);
