// A throw-away PostgreSQL cluster for one test file (or one bench run), from
// Debian's `postgresql` binaries: `initdb --no-sync` into a temporary
// directory, a free port on 127.0.0.1 and a socket directory of its own.
// `stop()` and `start()` take the server down and up again on the same port
// and data (the centre going away mid-load); `destroy()` removes everything.
//
// PostgreSQL refuses to run as root, so as root every command runs as the
// `postgres` user the Debian package creates (runuser).
import { execFile, execFileSync } from 'node:child_process';
import { chownSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requirePostgres } from './prerequisites.ts';

export type TestPostgres = {
  port: number;
  /** A connection URL for `database` (default `postgres`). */
  url(database?: string): string;
  /** Creates an empty database and answers its URL. */
  createDatabase(name?: string): Promise<string>;
  /** Runs SQL with psql, as the superuser, and answers its output (unaligned, tuples only). */
  psql(sql: string, database?: string): Promise<string>;
  /** Takes the server down: `immediate` is a crash (no checkpoint, sessions cut), `fast` a clean stop. */
  stop(mode?: 'immediate' | 'fast'): Promise<void>;
  /** Starts it again on the same port and data. */
  start(): Promise<void>;
  destroy(): Promise<void>;
};

export type PostgresOptions = {
  /**
   * Durable as Debian configures it (fsync and synchronous_commit on), for the
   * bench. Tests turn fsync off: they stop the server, never the machine, so
   * nothing they check depends on it.
   */
  durable?: boolean;
};

const asRoot = () => process.getuid?.() === 0;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

let databases = 0;

export async function startPostgres(options: PostgresOptions = {}): Promise<TestPostgres> {
  const bin = requirePostgres();
  const dir = mkdtempSync(join(tmpdir(), 'wrm-pg-'));
  const data = join(dir, 'data');
  const logFile = join(dir, 'server.log');
  if (asRoot()) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    chownSync(dir, uid, gid);
  }
  /** Runs one of PostgreSQL's programs, as `postgres` when we are root; never blocks the event loop. */
  const run = (program: string, args: string[], check = true) =>
    new Promise<string>((resolve, reject) => {
      const [cmd, argv] = asRoot() ? ['runuser', ['-u', 'postgres', '--', join(bin, program), ...args]] : [join(bin, program), args];
      execFile(cmd, argv, { cwd: dir, encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) => {
        if (err && check) {
          let log = '';
          try {
            log = readFileSync(logFile, 'utf8').slice(-2000);
          } catch {
            // no log yet
          }
          reject(new Error(`${program} ${args.join(' ')} failed: ${stderr}${stdout}\n${log}`));
        } else resolve(stdout);
      });
    });

  await run('initdb', ['-D', data, '--no-sync', '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-instructions']);
  let port = 0;
  const settings = () =>
    [
      `-p ${port}`,
      `-k ${dir}`,
      "-c listen_addresses='127.0.0.1'",
      '-c max_connections=100',
      ...(options.durable ? [] : ['-c fsync=off', '-c full_page_writes=off']),
    ].join(' ');
  const start = async () => {
    await run('pg_ctl', ['-D', data, '-l', logFile, '-w', '-t', '60', '-o', settings(), 'start']);
  };
  // A port that was free a moment ago may be taken by the time the server binds it: try another.
  for (let attempt = 1; ; attempt++) {
    port = await freePort();
    try {
      await start();
      break;
    } catch (err) {
      if (attempt >= 3) throw err;
    }
  }

  let running = true;
  // A test process that dies must not leave a server behind (synchronous: nothing else runs at exit).
  const onExit = () => {
    if (running) {
      const [cmd, argv] = asRoot() ? ['runuser', ['-u', 'postgres', '--', join(bin, 'pg_ctl')]] : [join(bin, 'pg_ctl'), []];
      try {
        execFileSync(cmd, [...argv, '-D', data, '-m', 'immediate', 'stop'], { stdio: 'ignore', cwd: dir });
      } catch {
        // already down
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', onExit);

  const url = (database = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${database}`;
  const psql = (sql: string, database = 'postgres') =>
    run('psql', ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-h', dir, '-p', String(port), '-U', 'postgres', '-d', database, '-c', sql]);
  return {
    get port() {
      return port;
    },
    url,
    psql,
    async createDatabase(name = `t${process.pid}_${++databases}`) {
      await psql(`CREATE DATABASE "${name}"`);
      return url(name);
    },
    async stop(mode = 'immediate') {
      if (!running) return;
      await run('pg_ctl', ['-D', data, '-m', mode, '-w', '-t', '60', 'stop']);
      running = false;
    },
    async start() {
      if (running) return;
      await start();
      running = true;
    },
    async destroy() {
      process.removeListener('exit', onExit);
      if (running) await run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', '-t', '60', 'stop'], false);
      running = false;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
