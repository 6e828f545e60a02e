// Child processes for the benchmarks that must not share an event loop (or a
// heap) with the measuring process.
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');

/** Node with the tsx loader: one process (the tsx binary adds a wrapper process). */
export const nodeTs = (script: string, args: string[] = []) => [process.execPath, ['--import', 'tsx', script, ...args]] as const;

/** Spawns and resolves with the first stdout line matching `pattern`. */
export function spawnUntil(
  command: string,
  args: readonly string[],
  pattern: RegExp,
  options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<{ child: ChildProcess; match: RegExpMatchArray }> {
  const child = spawn(command, args, { cwd: ROOT, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolvePromise, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${args.join(' ')}: no line matching ${pattern} within ${options.timeoutMs ?? 60_000} ms\n${err}`));
    }, options.timeoutMs ?? 60_000);
    child.stderr!.on('data', (d) => (err = (err + d).slice(-4000)));
    child.stdout!.on('data', (d) => {
      out += d;
      const m = out.match(pattern);
      if (m) {
        clearTimeout(timer);
        child.stdout!.removeAllListeners('data');
        child.stdout!.resume();
        resolvePromise({ child, match: m });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${args.join(' ')} exited (${code}) before printing ${pattern}\n${err}`));
    });
  });
}

/** SIGTERM, then SIGKILL if it has not exited in time. */
export function stop(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolvePromise) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.removeAllListeners('exit');
    child.once('exit', () => {
      clearTimeout(kill);
      resolvePromise();
    });
    child.kill('SIGTERM');
  });
}

/** Runs to completion; stdout, stderr and the exit code. */
export function runToEnd(command: string, args: readonly string[], timeoutMs = 600_000): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  const t0 = performance.now();
  const child = spawn(command, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise((resolvePromise) =>
    child.once('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr, ms: performance.now() - t0 });
    }),
  );
}
