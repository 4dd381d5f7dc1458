// A real browser for tests of the web view: Debian's chromium driven by playwright-core. As with
// Docker (./docker.ts), a developer without chromium gets a skip that says why, while CI
// (CI=true, where .ci/run installs it) fails instead of skipping into a green run.
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import type { SkippableContext } from './docker.js';

export const CHROMIUM = process.env.BATON_CHROMIUM ?? '/usr/bin/chromium';

/**
 * The flags a root process on a closed network needs: no sandbox (root), and none of the
 * background connections chromium would otherwise try to make to the internet.
 */
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** A launched headless chromium, or undefined after marking the test skipped (the caller returns). */
export async function requireBrowser(t: SkippableContext): Promise<Browser | undefined> {
  if (!existsSync(CHROMIUM)) {
    const reason = `no chromium at ${CHROMIUM}`;
    if (process.env.CI === 'true') throw new Error(`${reason}. CI=true, so this test must not skip: .ci/run installs Debian's chromium (scripts/test-deps.sh).`);
    t.diagnostic(`${reason}; skipped (apt-get install chromium)`);
    t.skip(`${reason}; skipped (apt-get install chromium)`);
    return undefined;
  }
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
}
