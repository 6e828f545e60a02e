// A Chromium this test process can kill outright (SIGKILL), as a crashed or
// power-cut browser would vanish: no pagehide, no DTLS close, nothing sent.
// playwright's Browser does not expose its process, so the browser is found
// in /proc as the `chromium` child of this process that the launch added.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { launchChromium } from './browser.ts';

/** [pid, parent pid, command name] of every process, from /proc/<pid>/stat. */
function processes(): [number, number, string][] {
  const out: [number, number, string][] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      out.push([Number(entry), ppid, comm]);
    } catch {
      // the process ended while we looked
    }
  }
  return out;
}

const chromiumChildren = () => new Set(processes().filter(([, ppid, comm]) => ppid === process.pid && comm === 'chromium').map(([pid]) => pid));

/** The pid and every process below it (renderer, GPU, network service, zygotes). */
function tree(root: number): number[] {
  const all = processes();
  const found = [root];
  for (let i = 0; i < found.length; i++) for (const [pid, ppid] of all) if (ppid === found[i]) found.push(pid);
  return found;
}

export type KillableChromium = {
  browser: Browser;
  /** SIGKILL to the browser process only; its helpers find out on their own. */
  kill(): void;
  /** Closes or reaps whatever is left of this browser. */
  close(): Promise<void>;
};

export async function launchKillableChromium(): Promise<KillableChromium> {
  const before = chromiumChildren();
  const browser = await launchChromium();
  const added = [...chromiumChildren()].filter((pid) => !before.has(pid));
  if (added.length !== 1) {
    await browser.close();
    throw new Error(`expected one new chromium process, found ${added.length}`);
  }
  const [pid] = added;
  let helpers: number[] = [];
  return {
    browser,
    kill() {
      helpers = tree(pid).slice(1);
      process.kill(pid, 'SIGKILL');
    },
    async close() {
      await browser.close().catch(() => {});
      // Helpers orphaned by the kill exit by themselves; reap any still there
      // rather than wait for them (a signal to one already exiting is harmless).
      for (const helper of helpers) {
        if (existsSync(`/proc/${helper}`)) {
          try {
            process.kill(helper, 'SIGKILL');
          } catch {
            // already gone
          }
        }
      }
    },
  };
}
