#!/usr/bin/env node
// docs/dashboard.png from the demo itself: starts `switchyard demo` (its upstreams and
// config/gateway.yaml) on free ports, sends a mix of traffic for DURATION seconds (default 120:
// the charts sample every 5 s), then photographs the dashboard in Chromium.
// Run with the project's Node after a build: `npm run build && npx node scripts/dashboard-screenshot.mjs`.
import { spawn } from 'node:child_process'
import { createServer } from 'node:net'
import { fileURLToPath } from 'node:url'
import { request } from 'undici'
import { chromium } from 'playwright-core'

const root = fileURLToPath(new URL('..', import.meta.url))
const seconds = Number(process.env.DURATION ?? 120)
const freePort = () => new Promise((resolve) => {
  const s = createServer().listen(0, '127.0.0.1', () => {
    const { port } = s.address()
    s.close(() => resolve(port))
  })
})
const port = await freePort()
const adminPort = await freePort()
const demo = spawn(process.execPath, ['bin/switchyard.js', 'demo'], {
  cwd: root,
  env: { ...process.env, SWITCHYARD_PORT: String(port), SWITCHYARD_ADMIN_PORT: String(adminPort), SWITCHYARD_ADMIN_TOKEN: '' },
  stdio: ['ignore', 'ignore', 'pipe'],
})
let banner = ''
demo.stderr.on('data', (d) => (banner += d))
while (!banner.includes('Ctrl-C')) await new Promise((r) => setTimeout(r, 100))
const token = /export TOKEN=(\S+)/.exec(banner)?.[1]
const gw = `http://127.0.0.1:${port}`

let n = 0
const paths = () => {
  n++
  const list = [`/api/users/${n % 40}`, `/api/orders/${n % 5}`, '/api/users/me']
  if (n % 9 === 0) list.push('/nothing-here')
  if (n % 13 === 0) list.push('/api/account')
  return list
}
const traffic = setInterval(() => {
  for (const p of paths()) {
    const headers = p === '/api/account' && n % 2 === 0 ? { authorization: `Bearer ${token}` } : { 'x-user-id': `u${n % 30}` }
    request(`${gw}${p}`, { headers }).then((r) => r.body.dump(), () => undefined)
  }
}, 25)
console.log(`demo on ${gw}, traffic for ${seconds} s …`)
await new Promise((r) => setTimeout(r, seconds * 1000))

const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] })
const page = await browser.newPage({ viewport: { width: 1360, height: 900 } })
await page.goto(`http://127.0.0.1:${adminPort}/`)
await page.waitForSelector('[data-pool="users-v1"]')
await page.waitForFunction(() => document.querySelectorAll('#chart-rate polyline').length > 0)
await page.waitForTimeout(2000)
await page.screenshot({ path: `${root}/docs/dashboard.png`, fullPage: true })
await browser.close()
clearInterval(traffic)
demo.kill('SIGTERM')
await new Promise((r) => demo.once('exit', r))
console.log('wrote docs/dashboard.png')
