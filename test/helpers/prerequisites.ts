// What the interop and reliability suites need beyond Node. A missing
// dependency fails the suite loudly with the command that installs it: these
// suites never skip, so a green run always means they ran.
import { execFileSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';

export type Tool = { path: string; install: string; what: string };

export const TOOLS = {
  chromium: { path: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', install: 'apt-get install -y --no-install-recommends chromium', what: 'Chromium (real browser viewer and dashboard tests)' },
  python3: { path: process.env.AIORTC_PYTHON ?? '/usr/bin/python3', install: 'apt-get install -y --no-install-recommends python3-aiortc', what: "Debian's python3 with aiortc (an independent WebRTC peer)" },
  promtool: { path: process.env.PROMTOOL_PATH ?? '/usr/bin/promtool', install: 'apt-get install -y --no-install-recommends prometheus', what: "Prometheus's promtool (lints the /metrics exposition)" },
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
