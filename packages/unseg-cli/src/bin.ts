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

let settled = false;
// Node exits when nothing is left to wait for, even while main() awaits a promise that can never
// settle (a plugin's reader, mask or open() waiting on nothing): without this, that run would end
// with exit 0 and no output.
process.on('beforeExit', () => {
  if (settled) return;
  settled = true;
  process.stderr.write(
    'unseg-pipeline: stopped unfinished: the command was waiting for work that can never finish (a promise that never settles, ' +
      'most likely in a plugin: its open(), samples() or a mask()); what is written so far is intact and a rerun resumes it\n',
  );
  process.exitCode = 1;
});
main(process.argv).then(
  (code) => {
    settled = true;
    process.exitCode = code;
    // An interrupted run is over once its summary is out, even if a plugin left a timer or a
    // socket that would keep the process alive (a reader stuck mid-read).
    if (code === 130) process.stdout.write('', () => process.stderr.write('', () => process.exit(130)));
  },
  (error: unknown) => {
    settled = true;
    process.stderr.write(`unseg-pipeline: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  },
);
