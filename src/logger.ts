// The process's log: pino, to stderr. JSON lines for machines (a supervisor,
// a log shipper); on a terminal, or with --log-format pretty, one readable
// line per entry instead: time, level, message, then the fields as key=value.
// The readable form is a small formatter over pino's own JSON line rather
// than pino-pretty, which would bring a dozen packages for this.
import { writeSync } from 'node:fs';
import pino, { type Logger } from 'pino';
import type { LOG_FORMATS, LOG_LEVELS } from './config.ts';

export type LogSettings = { logLevel: (typeof LOG_LEVELS)[number]; logFormat: (typeof LOG_FORMATS)[number] };

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const LEVEL_COLOURS: Record<number, string> = { 10: '90', 20: '36', 30: '32', 40: '33', 50: '31', 60: '35' };

/** Whether `auto` means the readable form: stderr is a terminal. */
export const prettyByDefault = () => process.stderr.isTTY === true;

export function makeLogger(settings: LogSettings, stderrFd = 2): Logger {
  const pretty = settings.logFormat === 'pretty' || (settings.logFormat === 'auto' && prettyByDefault());
  if (!pretty) return pino({ level: settings.logLevel, base: undefined }, pino.destination(stderrFd));
  // NO_COLOR (https://no-color.org) and anything that is not a terminal get no escape codes.
  const colour = process.stderr.isTTY === true && !process.env.NO_COLOR;
  return pino(
    { level: settings.logLevel, base: undefined },
    // Written synchronously, like pino.destination: a line is out before the next statement runs.
    { write: (line: string) => writeSync(stderrFd, formatLine(line, colour)) },
  );
}

/** One pino JSON line as `12:00:01.234 INFO  message key=value …`, with an error's stack below it. */
export function formatLine(jsonLine: string, colour = false): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(jsonLine);
  } catch {
    return jsonLine.endsWith('\n') ? jsonLine : `${jsonLine}\n`;
  }
  const { level, time, msg, err, ...fields } = entry as { level?: number; time?: number; msg?: string; err?: { message?: string; stack?: string; type?: string } };
  const at = typeof time === 'number' ? new Date(time).toISOString().slice(11, 23) : '';
  const name = (LEVEL_NAMES[level ?? 30] ?? String(level)).padEnd(5);
  const shownLevel = colour ? `\u001b[${LEVEL_COLOURS[level ?? 30] ?? '0'}m${name}\u001b[0m` : name;
  const pairs = Object.entries(fields).map(([k, v]) => `${k}=${typeof v === 'string' && !/[\s"=]/.test(v) ? v : JSON.stringify(v)}`);
  let out = [at, shownLevel, msg ?? '', ...pairs].filter((part) => part !== '').join(' ');
  if (err) {
    const stack = err.stack ?? `${err.type ?? 'Error'}: ${err.message ?? ''}`;
    out += `\n${stack.split('\n').map((l) => `    ${l.trim()}`).join('\n')}`;
  }
  return `${out}\n`;
}
