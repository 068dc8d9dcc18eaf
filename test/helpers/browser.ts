/**
 * Debian's Chromium driven by playwright-core, for the dashboard tests. Without Chromium a
 * browser test is skipped on a developer's machine (with a warning) and fails in CI, where
 * .ci/run installs it.
 */
import { existsSync } from 'node:fs'
import { chromium, type Browser } from 'playwright-core'

export const CHROMIUM = '/usr/bin/chromium'
export const haveChromium = existsSync(CHROMIUM)

/** Whether a browser test runs here: Chromium is installed, or this is CI (which must have it). */
export function browserTestsRun(what: string): boolean {
  const inCi = process.env.CI === 'true'
  if (!haveChromium && !inCi) console.warn(`\n*** ${what} SKIPPED: ${CHROMIUM} not found (apt-get install chromium; CI installs it via .ci/run) ***\n`)
  return haveChromium || inCi
}

/** A headless Chromium; throws a clear error when it is missing (in CI). */
export async function launchChromium(what: string): Promise<Browser> {
  if (!haveChromium) throw new Error(`${CHROMIUM} is missing: ${what} cannot run (apt-get install chromium; .ci/run does this)`)
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  })
}
