import { existsSync } from 'node:fs';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';

/** Debian's chromium, driven by playwright-core (no downloaded browser). */
export const CHROMIUM = '/usr/bin/chromium';
const inCi = process.env.CI === 'true' || process.env.CI === '1';
const chromiumMissing = !existsSync(CHROMIUM);

/** A suite's skip option: skipped on a machine without chromium, never in CI (where its absence fails the suite). */
export const skipWithoutChromium =
  chromiumMissing && !inCi ? `${CHROMIUM} is not installed (apt-get install chromium)` : false;

export async function launchChromium(): Promise<Browser> {
  if (chromiumMissing) assert.fail(`${CHROMIUM} is missing: CI must install Debian's chromium package (see .ci/run)`);
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
