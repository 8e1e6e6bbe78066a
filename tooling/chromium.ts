import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext } from 'playwright-core';

/**
 * Headless Chromium for the browser tests and the bench: Debian's Chromium driven by playwright-core
 * (Playwright's own browser download cannot run here). `CHROMIUM_PATH` points at another binary;
 * without one the callers skip what needs a browser, and say so.
 */
const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

/** The flags this closed network needs: nothing reaches out to Google's services. */
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export function chromiumPath(): string | undefined {
  const configured = process.env.CHROMIUM_PATH;
  if (configured) return existsSync(configured) ? configured : undefined;
  return CANDIDATES.find((path) => existsSync(path));
}

function requireChromium(): string {
  const executablePath = chromiumPath();
  if (!executablePath) throw new Error('No Chromium found (install chromium or set CHROMIUM_PATH)');
  return executablePath;
}

export interface LaunchedBrowser {
  browser: Browser;
  close(): Promise<void>;
}

/**
 * Launches headless Chromium; playwright gives every launch a fresh, empty profile folder of its
 * own (it refuses `--user-data-dir` in `launch`). Its pages open in off-the-record contexts, whose
 * storage (OPFS included) Chromium keeps in memory.
 */
export async function launchChromium(): Promise<LaunchedBrowser> {
  const browser = await chromium.launch({ executablePath: requireChromium(), headless: true, args: FLAGS });
  return {
    browser,
    close: () => browser.close(),
  };
}

export interface LaunchedProfile {
  /** The profile's one context: storage (OPFS included) on disk under `userDataDir`. */
  context: BrowserContext;
  userDataDir: string;
  /** Closes the browser and removes the profile folder. */
  close(): Promise<void>;
}

/**
 * Launches headless Chromium on a new, empty profile folder (`--user-data-dir`, through
 * playwright's persistent context): a browser as a user runs it, whose origin storage is written
 * to disk, as the bench measures the browser store.
 */
export async function launchChromiumProfile(): Promise<LaunchedProfile> {
  const executablePath = requireChromium();
  const userDataDir = mkdtempSync(join(tmpdir(), 'offline-sync-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath,
      headless: true,
      args: FLAGS,
    });
  } catch (error) {
    rmSync(userDataDir, { recursive: true, force: true });
    throw error;
  }
  return {
    context,
    userDataDir,
    async close() {
      try {
        await context.close();
      } finally {
        rmSync(userDataDir, { recursive: true, force: true });
      }
    },
  };
}
