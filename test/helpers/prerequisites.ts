// What the interop and reliability suites need beyond Node. A missing
// dependency fails the suite loudly with the command that installs it: these
// suites never skip, so a green run always means they ran.
import { execFileSync } from 'node:child_process';
import { accessSync, constants, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

export type Tool = { path: string; install: string; what: string };

/**
 * Where Debian keeps a PostgreSQL version's programs (not on PATH):
 * $PG_BIN if set, else the newest /usr/lib/postgresql/<version>/bin.
 */
function postgresBin(): string {
  if (process.env.PG_BIN) return process.env.PG_BIN;
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a)) : [];
  return join(root, versions[0] ?? '15', 'bin');
}

export const TOOLS = {
  chromium: { path: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', install: 'apt-get install -y --no-install-recommends chromium', what: 'Chromium (real browser viewer and dashboard tests)' },
  python3: { path: process.env.AIORTC_PYTHON ?? '/usr/bin/python3', install: 'apt-get install -y --no-install-recommends python3-aiortc', what: "Debian's python3 with aiortc (an independent WebRTC peer)" },
  promtool: { path: process.env.PROMTOOL_PATH ?? '/usr/bin/promtool', install: 'apt-get install -y --no-install-recommends prometheus', what: "Prometheus's promtool (lints the /metrics exposition)" },
  postgres: { path: join(postgresBin(), 'initdb'), install: 'apt-get install -y --no-install-recommends postgresql', what: 'PostgreSQL server binaries (the fleet suites start a throw-away cluster)' },
} satisfies Record<string, Tool>;

/** Throws, naming the install command, when an executable is missing. */
export function requireTool(tool: Tool): string {
  try {
    accessSync(tool.path, constants.X_OK);
  } catch {
    throw new Error(`${tool.what} is missing: ${tool.path} is not executable. Install it with: ${tool.install}`);
  }
  return tool.path;
}

/** Throws unless the process runs as root (mounting a tmpfs, network namespaces, ulimit). */
export function requireRoot(why: string): void {
  if (process.getuid?.() !== 0) throw new Error(`this suite must run as root: ${why}. Run it as root (CI does: npm run test:reliability)`);
}

/** Debian's python3 with aiortc importable; throws with the install command otherwise. */
export function requireAiortc(): string {
  const python = requireTool(TOOLS.python3);
  try {
    execFileSync(python, ['-c', 'import aiortc'], { stdio: 'pipe' });
  } catch (err) {
    const why = String((err as { stderr?: Buffer }).stderr ?? err).trim().split('\n').pop();
    throw new Error(`aiortc is not importable by ${python} (${why}). Install it with: ${TOOLS.python3.install}`);
  }
  return python;
}

/** What a suite script can ask for with `--require` (test/run.ts): each check throws with the install command. */
export const REQUIREMENTS: Record<string, () => unknown> = {
  chromium: () => requireTool(TOOLS.chromium),
  aiortc: requireAiortc,
  promtool: () => requireTool(TOOLS.promtool),
  postgres: () => requirePostgres(),
  root: () => requireRoot('it mounts a tmpfs under the database and changes resource limits'),
};

/** Every requirement in `names` that is not met, each with the command that installs it. */
export function missingRequirements(names: readonly string[]): string[] {
  const missing: string[] = [];
  for (const name of names) {
    const check = REQUIREMENTS[name];
    if (!check) {
      missing.push(`unknown requirement "${name}" (known: ${Object.keys(REQUIREMENTS).join(', ')})`);
      continue;
    }
    try {
      check();
    } catch (err) {
      missing.push((err as Error).message);
    }
  }
  return missing;
}

/** The directory of PostgreSQL's server programs (initdb, pg_ctl, postgres, psql); throws with the install command otherwise. */
export function requirePostgres(): string {
  const initdb = requireTool(TOOLS.postgres);
  const bin = initdb.slice(0, -'/initdb'.length);
  for (const program of ['pg_ctl', 'postgres', 'psql']) requireTool({ ...TOOLS.postgres, path: join(bin, program) });
  if (process.getuid?.() === 0) {
    try {
      execFileSync('id', ['-u', 'postgres'], { stdio: 'pipe' });
    } catch {
      throw new Error(`PostgreSQL refuses to run as root and there is no postgres user to run it as. Install it with: ${TOOLS.postgres.install}`);
    }
  }
  return bin;
}
