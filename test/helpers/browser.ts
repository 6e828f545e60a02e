// Debian's Chromium driven by playwright-core: never a browser download. The
// flags keep it headless, quiet on the network and usable as root in CI.
import { chromium, type Browser, type BrowserContextOptions, type Page } from 'playwright-core';
import { requireTool, TOOLS } from './prerequisites.ts';

export const CHROMIUM_PATH = TOOLS.chromium.path;

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-sync',
  '--disable-quic',
];

export function launchChromium(extraArgs: string[] = []): Promise<Browser> {
  return chromium.launch({ executablePath: requireTool(TOOLS.chromium), args: [...CHROMIUM_ARGS, ...extraArgs] });
}

export type WatchedPage = {
  page: Page;
  /** Uncaught exceptions, console errors and CSP violations seen so far. */
  problems: string[];
  close(): Promise<void>;
};

/** A page in a fresh context that records everything that went wrong in it. */
export async function openPage(browser: Browser, options: BrowserContextOptions = {}): Promise<WatchedPage> {
  const context = await browser.newContext(options);
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console: ${msg.text()}`);
  });
  return { page, problems, close: () => context.close() };
}
