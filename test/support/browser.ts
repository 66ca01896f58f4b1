import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/**
 * Debian's Chromium, driven by playwright-core, for the browser tests. Nothing is downloaded or
 * installed at run time: without the package the test fails and says how to get it (CI's
 * .ci/run installs it when missing).
 */
export const chromiumPath = '/usr/bin/chromium';
export const chromiumInstallCommand = 'apt-get update && apt-get install -y chromium';
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
