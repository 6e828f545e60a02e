// Runs the real CLI (src/cli.ts) as a child process, from any working directory.
import { spawn } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
// node with tsx's loader, not the tsx binary: that one starts a second node process.
const NODE_ARGS = ['--import', pathToFileURL(join(ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href];
export const CLI = join(ROOT, 'src', 'cli.ts');

export type CliResult = { code: number | null; stdout: string; stderr: string };

export function runCli(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [...NODE_ARGS, CLI, ...args], {
      cwd: options.cwd ?? ROOT,
      env: { ...process.env, NO_COLOR: '1', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
  });
}

/**
 * Starts `serve` and resolves once it prints its URL; `stop()` sends SIGTERM
 * and waits for the exit code. `nofile` lowers its open-file limit (`ulimit
 * -n`) first, as an operator's shell or unit file would.
 */
export function startCliServer(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; nofile?: number } = {}) {
  const command = [process.execPath, ...NODE_ARGS, CLI, 'serve', ...args];
  const [file, argv] = options.nofile
    ? ['/bin/sh', ['-c', `ulimit -n ${options.nofile} && exec "$@"`, 'sh', ...command]]
    : [command[0], command.slice(1)];
  const child = spawn(file, argv, {
    cwd: options.cwd ?? ROOT,
    env: { ...process.env, NO_COLOR: '1', WEBRTC_MONITOR_LOG_LEVEL: 'warn', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (c) => (stderr += c));
  const exited = new Promise<number | null>((r) => child.on('close', (code, signal) => r(code ?? (signal ? -1 : null))));
  const url = new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${stderr}`)), 30_000);
    child.stdout.setEncoding('utf8').on('data', (c) => {
      stdout += c;
      const m = /listening on (http:\/\/\S+)/.exec(stdout);
      if (m) {
        clearTimeout(timer);
        resolveUrl(m[1]);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code}: ${stderr}`));
    });
  });
  return {
    url,
    child,
    exited,
    output: () => ({ stdout, stderr }),
    async stop() {
      child.kill('SIGTERM');
      return exited;
    },
  };
}
