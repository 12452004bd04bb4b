// parseToolArgs: --help, parse errors as one line with exit 2, good options. In-process with an
// injected exit, and once through a real child process (exit codes, no stack trace).
// Run: node --test tools/lib/
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fail, parseToolArgs } from '../args.mjs';

const USAGE = 'Does a thing.\n\nusage: node tools/demo.mjs [--n 3] [--quiet] [file]\n';
const OPTIONS = { n: { type: 'string', default: '3' }, quiet: { type: 'boolean', default: false } };

/** parseToolArgs with captured output; `exit` throws so that nothing after it runs. */
function run(args, extra = {}) {
  const io = { out: '', err: '', code: undefined };
  const sink = (k) => ({ write: (s) => (io[k] += s) });
  class Exit extends Error {}
  const exit = (code) => {
    io.code = code;
    throw new Exit();
  };
  try {
    io.result = parseToolArgs({ name: 'demo', usage: USAGE, options: OPTIONS, args, exit, stdout: sink('out'), stderr: sink('err'), ...extra });
  } catch (e) {
    if (!(e instanceof Exit)) throw e;
  }
  return io;
}

test('--help and -h print the usage on stdout and exit 0', () => {
  for (const flag of ['--help', '-h']) {
    const io = run(['--n', '5', flag]);
    assert.equal(io.code, 0);
    assert.equal(io.out, USAGE);
    assert.equal(io.err, '');
  }
});

test('--help wins over a mistake elsewhere on the line, but not after --', () => {
  assert.equal(run(['--bogus', '--help']).code, 0);
  const io = run(['--', '--help']);
  assert.equal(io.code, 2);
  assert.match(io.err, /unexpected argument '--help'/);
});

test('an unknown option: one line naming the tool and the option, exit 2', () => {
  const io = run(['--n', '4', '--bogus']);
  assert.equal(io.code, 2);
  assert.equal(io.out, '');
  assert.equal(io.err, "demo: unknown option '--bogus' (see --help)\n");
});

test('a missing value, a value for a flag, an unexpected positional: exit 2, one line each', () => {
  for (const [args, re] of [
    [['--n'], /^demo: option '--n <value>' argument missing \(see --help\)\n$/],
    [['--n', '--quiet'], /^demo: option '--n' argument is ambiguous \(see --help\)\n$/],
    [['--quiet=yes'], /^demo: option '--quiet' does not take an argument \(see --help\)\n$/],
    [['file.json'], /^demo: unexpected argument 'file\.json' \(see --help\)\n$/],
  ]) {
    const io = run(args);
    assert.equal(io.code, 2, args.join(' '));
    assert.match(io.err, re);
  }
});

test('good options parse, defaults apply, help is not among the values', () => {
  assert.deepEqual(run([]).result, { values: { n: '3', quiet: false }, positionals: [] });
  const { result, code } = run(['--n=7', '--quiet', 'a.json', 'b.json'], { allowPositionals: true });
  assert.equal(code, undefined);
  assert.deepEqual(result, { values: { n: '7', quiet: true }, positionals: ['a.json', 'b.json'] });
});

test('numbers: values come back as numbers; a value breaking its rule is one line naming the option, exit 2', () => {
  const numbers = { n: { integer: true, min: 1 }, lr: { min: 0 }, p: { min: 0, max: 1 } };
  const options = { ...OPTIONS, lr: { type: 'string' }, p: { type: 'string' } };
  assert.deepEqual(run(['--lr', '1e-3', '--p', '0.5'], { options, numbers }).result, {
    values: { n: 3, quiet: false, lr: 0.001, p: 0.5 },
    positionals: [],
  });
  // An option left out without a default stays undefined rather than becoming NaN or 0.
  assert.equal(run([], { options, numbers }).result.values.lr, undefined);
  for (const [args, message] of [
    [['--n', 'abc'], '--n must be an integer >= 1, got "abc"'],
    [['--n', '2.5'], '--n must be an integer >= 1, got "2.5"'],
    [['--n', '0'], '--n must be an integer >= 1, got "0"'],
    [['--n', ''], '--n must be an integer >= 1, got ""'],
    [['--lr=-1'], '--lr must be a number >= 0, got "-1"'],
    [['--lr', 'Infinity'], '--lr must be a number >= 0, got "Infinity"'],
    [['--p', '2'], '--p must be a number from 0 to 1, got "2"'],
  ]) {
    const io = run(args, { options, numbers });
    assert.equal(io.code, 2, args.join(' '));
    assert.equal(io.err, `demo: ${message} (see --help)\n`);
  }
});

test('numbers: a rule for no string option is the tool\'s mistake, thrown at once', () => {
  assert.throws(() => run([], { numbers: { missing: { min: 1 } } }), /numbers\.missing names no string option/);
  assert.throws(() => run([], { numbers: { quiet: {} } }), /numbers\.quiet names no string option/);
});

test('fail: one line, exit 2', () => {
  let err = '';
  let code;
  fail('demo', 'x/y is missing', { exit: (c) => (code = c), stderr: { write: (s) => (err += s) } });
  assert.equal(err, 'demo: x/y is missing\n');
  assert.equal(code, 2);
});

test('in a real process: usage and exit 0 before the work, one line and exit 2 on a bad option', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'unseg-args-'));
  try {
    const script = path.join(dir, 'demo.mjs');
    fs.writeFileSync(
      script,
      `import { parseToolArgs } from ${JSON.stringify(new URL('../args.mjs', import.meta.url).href)};\n` +
        `const { values } = parseToolArgs({ name: 'demo', usage: ${JSON.stringify(USAGE)}, options: ${JSON.stringify(OPTIONS)} });\n` +
        `console.log('WORK', values.n);\n`,
    );
    const node = (...args) => spawnSync(process.execPath, [script, ...args], { encoding: 'utf8' });
    const help = node('--help');
    assert.equal(help.status, 0);
    assert.equal(help.stdout, USAGE);
    assert.doesNotMatch(help.stdout, /WORK/);
    const bad = node('--bogus');
    assert.equal(bad.status, 2);
    assert.equal(bad.stdout, '');
    assert.equal(bad.stderr, "demo: unknown option '--bogus' (see --help)\n");
    const good = node('--n', '9');
    assert.equal(good.status, 0);
    assert.equal(good.stdout, 'WORK 9\n');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
