// Command-line options for the scripts under tools/. node:util's parseArgs throws on a mistyped
// option (a stack trace) and knows no --help, so a tool either ran its whole job on `--help` or
// died noisily. parseToolArgs adds -h/--help (the tool's usage on stdout, exit 0, before any
// work starts) and turns parse errors into one line on stderr, `<name>: <message> (see --help)`,
// exit 2. `exit`, `stdout`, `stderr` and `args` are parameters only so that tests can run it in-process.
import { parseArgs } from 'node:util';

/** One line on stderr, `<name>: <message>`, then exit 2 (a usage error: bad argument, missing input). */
export function fail(name, message, { exit = process.exit, stderr = process.stderr } = {}) {
  stderr.write(`${name}: ${message}\n`);
  return exit(2);
}

/**
 * parseArgs (strict) with -h/--help added; `usage` is the help text (or a function giving it).
 * `numbers` names string options that must hold a number, each with its rule ({ integer, min,
 * max }): their values come back as numbers, and a value that breaks the rule ("abc", "3.5" for an
 * integer, "0" below min 1) is a usage error naming the option, before any work starts; a number
 * the tool read with Number() alone ran its whole job on NaN.
 * Returns { values, positionals } without `help`; on --help or a parse error it exits (or, with
 * an `exit` that returns, returns undefined).
 */
export function parseToolArgs({ name, usage, options = {}, numbers = {}, allowPositionals = false, args = process.argv.slice(2), exit = process.exit, stdout = process.stdout, stderr = process.stderr }) {
  const wantsHelp = () => {
    const end = args.indexOf('--');
    return (end < 0 ? args : args.slice(0, end)).some((a) => a === '--help' || a === '-h');
  };
  let parsed;
  try {
    parsed = parseArgs({ args, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals, strict: true });
  } catch (err) {
    if (!String(err.code).startsWith('ERR_PARSE_ARGS_')) throw err;
    // `--help` wins over a mistake elsewhere on the line.
    if (!wantsHelp()) {
      // parseArgs' messages run to several sentences and lines; the first says what is wrong.
      const first = err.message.split('\n')[0].split('. ')[0].replace(/\.$/, '');
      return fail(name, `${first[0].toLowerCase()}${first.slice(1)} (see --help)`, { exit, stderr });
    }
    parsed = { values: { help: true }, positionals: [] };
  }
  if (parsed.values.help) {
    stdout.write(`${(typeof usage === 'function' ? usage() : usage).trim()}\n`);
    return exit(0);
  }
  const { help: _help, ...values } = parsed.values;
  for (const [key, rule] of Object.entries(numbers)) {
    if (options[key]?.type !== 'string') throw new Error(`parseToolArgs: numbers.${key} names no string option`);
    const raw = values[key];
    if (raw === undefined) continue;
    const n = numberFor(raw, rule);
    if (n === undefined) return fail(name, `--${key} must be ${describeRule(rule)}, got "${raw}" (see --help)`, { exit, stderr });
    values[key] = n;
  }
  return { values, positionals: parsed.positionals };
}

/** The number `raw` holds if it keeps `rule`, else undefined. */
function numberFor(raw, { integer = false, min, max } = {}) {
  const n = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
  if (!Number.isFinite(n) || (integer && !Number.isInteger(n))) return undefined;
  if ((min !== undefined && n < min) || (max !== undefined && n > max)) return undefined;
  return n;
}

function describeRule({ integer = false, min, max } = {}) {
  const kind = integer ? 'an integer' : 'a number';
  if (min !== undefined && max !== undefined) return `${kind} from ${min} to ${max}`;
  if (min !== undefined) return `${kind} >= ${min}`;
  if (max !== undefined) return `${kind} <= ${max}`;
  return kind;
}
