import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

import { chromiumPath, installCommand } from '../../scripts/lib/system-packages';

/**
 * Debian's Chromium, driven by playwright-core, for the browser tests. Nothing is downloaded at
 * run time: npm test installs Debian's package when run as root (scripts/lib/system-packages.ts)
 * and otherwise stops naming the command; a test run some other way fails here saying it.
 */
export const chromiumInstallCommand = installCommand(['chromium'], true);
/** No sandbox (CI runs as root), no GPU, and none of Chromium's own traffic to Google. */
const chromiumArgs = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export function requireChromium(path: string = chromiumPath): string {
  if (!existsSync(path))
    throw new Error(
      `no Chromium at ${path}: the browser tests need Debian's chromium package (${chromiumInstallCommand})`,
    );
  return path;
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: requireChromium(), args: chromiumArgs, headless: true });
}
