// Runs the real CLI (src/cli.ts) as a child process, from any working directory.
import { spawn } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
// node with tsx's loader, not the tsx binary: that one starts a second node process.
export const NODE_ARGS = ['--import', pathToFileURL(join(ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href];
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
export function startCliServer(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; nofile?: number; startTimeoutMs?: number; netns?: string } = {}) {
  // `netns`: run it inside that network namespace (`ip netns exec` execs the command, so the child is the server itself).
  const command = [...(options.netns ? ['ip', 'netns', 'exec', options.netns] : []), process.execPath, ...NODE_ARGS, CLI, 'serve', ...args];
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
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${stderr}`)), options.startTimeoutMs ?? 30_000);
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
    /** Sends `signal` (SIGKILL: a crash, nothing runs on the way out) and waits for the exit. */
    async kill(signal: NodeJS.Signals) {
      child.kill(signal);
      return exited;
    },
  };
}

export type CliProcess = {
  pid: number;
  /** Resolves with the first stdout line (so far or to come) matching `pattern`. */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
  output(): { stdout: string; stderr: string };
  /** SIGTERM and wait for the exit code. */
  stop(): Promise<number | null>;
  kill(signal: NodeJS.Signals): Promise<number | null>;
  exited: Promise<number | null>;
};

/** Starts any long-running command (`fleet project`, ...) and lets the test follow its stdout line by line. */
export function startCli(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): CliProcess {
  const child = spawn(process.execPath, [...NODE_ARGS, CLI, ...args], {
    cwd: options.cwd ?? ROOT,
    env: { ...process.env, NO_COLOR: '1', WEBRTC_MONITOR_LOG_LEVEL: 'warn', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const waiters = new Set<() => void>();
  child.stdout.setEncoding('utf8').on('data', (c) => {
    stdout += c;
    for (const wake of waiters) wake();
  });
  child.stderr.setEncoding('utf8').on('data', (c) => (stderr += c));
  let done = false;
  const exited = new Promise<number | null>((r) =>
    child.on('close', (code) => {
      done = true;
      for (const wake of waiters) wake();
      r(code);
    }),
  );
  return {
    pid: child.pid!,
    exited,
    output: () => ({ stdout, stderr }),
    waitForLine(pattern, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const line = stdout.split('\n').find((l) => pattern.test(l));
          if (line !== undefined) return finish(() => resolve(line));
          if (done) finish(() => reject(new Error(`exited before printing ${pattern}: ${stderr.slice(-2000)}`)));
        };
        const timer = setTimeout(() => finish(() => reject(new Error(`no line matching ${pattern} within ${timeoutMs} ms: ${stderr.slice(-2000)}`))), timeoutMs);
        const finish = (then: () => void) => {
          clearTimeout(timer);
          waiters.delete(check);
          then();
        };
        waiters.add(check);
        check();
      });
    },
    async stop() {
      if (!done) child.kill('SIGTERM');
      return exited;
    },
    async kill(signal) {
      if (!done) child.kill(signal);
      return exited;
    },
  };
}

/**
 * Runs the CLI on a pseudo-terminal (util-linux's script(1), in Debian's
 * essential bsdutils), as an operator's shell would: stdin and stderr are a
 * terminal. `answers` are typed when their prompt appears; `until` ends the
 * run (SIGTERM to the CLI) once the output matches it. Resolves with what the
 * terminal showed (stdout and stderr together).
 */
export function runCliOnTerminal(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; answers?: [RegExp, string][]; until?: RegExp; timeoutMs?: number } = {},
): Promise<{ code: number | null; output: string }> {
  const command = [process.execPath, ...NODE_ARGS, CLI, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ');
  // The shell says its pid first, then becomes the CLI: that pid is the CLI's.
  const child = spawn('script', ['-qfec', `echo PID=$$; exec ${command}`, '/dev/null'], {
    cwd: ROOT,
    env: { ...process.env, NO_COLOR: '1', ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let output = '';
  const answers = [...(options.answers ?? [])];
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the CLI on a terminal did not finish: ${output}`));
    }, options.timeoutMs ?? 30_000);
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      output += c;
      while (answers.length && answers[0][0].test(output)) child.stdin.write(`${answers.shift()![1]}\n`);
      const pid = /PID=(\d+)/.exec(output);
      if (options.until?.test(output) && pid) {
        options.until = undefined;
        process.kill(Number(pid[1]), 'SIGTERM');
      }
    });
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, output: output.replace(/^PID=\d+\r?\n/, '') });
    });
  });
}
