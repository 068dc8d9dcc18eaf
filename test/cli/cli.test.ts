import { afterEach, describe, expect, it } from 'vitest'
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { request } from 'undici'
import { freePort, waitFor } from '../helpers/upstream.js'
import { lockDemoPorts } from '../helpers/demo-lock.js'

const run = promisify(execFile)
const root = resolve(import.meta.dirname, '../..')
const bin = join(root, 'bin/switchyard.js')
let dir: string | undefined
let child: ChildProcess | undefined
let unlockDemo: (() => void) | undefined
afterEach(async () => {
  if (child && child.exitCode === null && child.signalCode === null) {
    const gone = new Promise((r) => child!.once('exit', r))
    child.kill('SIGKILL')
    await gone
  }
  child = undefined
  unlockDemo?.()
  unlockDemo = undefined
  if (dir) rmSync(dir, { recursive: true, force: true })
  dir = undefined
})

async function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  expect(existsSync(join(root, 'dist/src/cli.js')), 'dist/ missing: npm test builds it (pretest)').toBe(true)
  try {
    const { stdout, stderr } = await run(process.execPath, [bin, ...args], { env: { ...process.env, ...env } })
    return { code: 0, stdout, stderr }
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string }
    return { code: e.code, stdout: e.stdout, stderr: e.stderr }
  }
}

function tmpFile(name: string, content: string): string {
  dir ??= mkdtempSync(join(tmpdir(), 'sy-cli-'))
  const f = join(dir, name)
  writeFileSync(f, content)
  return f
}

describe('switchyard CLI', () => {
  it('--version names the Node that runs it (the pinned Node 24)', async () => {
    const r = await cli(['--version'])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/^switchyard \d+\.\d+\.\d+ \(node v24\./)
  })

  it('check prints ok and exits 0 for a valid file', async () => {
    const f = tmpFile('ok.yaml', 'pools: { p: { backends: [http://127.0.0.1:9] } }\nroutes: [{ name: r, match: { path: / }, pool: p }]\n')
    const r = await cli(['check', '-c', f])
    expect(r).toMatchObject({ code: 0, stdout: 'ok\n' })
  })

  it('check prints one "path: message" line per problem and exits 1', async () => {
    const f = tmpFile(
      'bad.yaml',
      `pools:
  users-v1: { backends: [http://127.0.0.1:9] }
routes:
  - { name: a, match: { path: /a }, pool: users-v1 }
  - { name: b, match: { path: /b }, pool: users-v1 }
  - name: c
    match: { path: /c }
    split:
      - { pool: users-v1, weight: 1 }
      - { pool: users-v3, weight: 1 }
`,
    )
    const r = await cli(['check', '-c', f])
    expect(r.code).toBe(1)
    expect(r.stdout).toContain('routes[2].split[1].pool: unknown pool "users-v3"')
  })

  it('check reports every problem together', async () => {
    const f = tmpFile('many.yaml', 'pools: { p: { backends: [] } }\nroutes: [{ name: r, match: { pth: / }, pool: q }]\n')
    const r = await cli(['check', '-c', f])
    expect(r.code).toBe(1)
    const lines = r.stdout.trim().split('\n')
    expect(lines.length).toBeGreaterThanOrEqual(2)
    for (const line of lines) expect(line).toMatch(/^[\w.[\]-]+: .+/)
  })

  it('check also asks the features: a JWT key that cannot verify the listed algorithms is a problem', async () => {
    const { generateKeyPairSync } = await import('node:crypto')
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
    const pem = tmpFile('rsa.pem', publicKey.export({ type: 'spki', format: 'pem' }) as string)
    const f = tmpFile(
      'jwt.yaml',
      `jwt: { algorithms: [ES256], publicKey: ${pem} }\npools: { p: { backends: [http://127.0.0.1:9] } }\nroutes: [{ name: r, match: { path: / }, pool: p, jwt: true }]\n`,
    )
    const r = await cli(['check', '-c', f])
    expect(r.code).toBe(1)
    expect(r.stdout).toMatch(/^jwt\.algorithms: ES256 cannot be verified with this rsa key$/m)
  })

  it('check reports a certificate whose key does not match, with its path', async () => {
    dir ??= mkdtempSync(join(tmpdir(), 'sy-cli-'))
    const openssl = (args: string[]) => run('openssl', args, { cwd: dir })
    await openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'k1.pem', '-out', 'c1.pem', '-subj', '/CN=gw.test', '-days', '2'])
    await openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'k2.pem'])
    const f = tmpFile(
      'tls.yaml',
      `server: { tls: { port: 8443, certificates: [{ cert: c1.pem, key: k2.pem }] } }\npools: { p: { backends: [http://127.0.0.1:9] } }\nroutes: [{ name: r, match: { path: / }, pool: p }]\n`,
    )
    const r = await cli(['check', '-c', f])
    expect(r.code).toBe(1)
    expect(r.stdout).toMatch(/^server\.tls\.certificates\[0\]\.key: /m)
  })

  it('start fails with the problems and exit 1 on an invalid file', async () => {
    const f = tmpFile('bad2.yaml', 'routes: [{ name: r, match: { path: / }, pool: nope }]\n')
    const r = await cli(['start', '-c', f])
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('routes[0].pool')
  })

  // Three processes' worth of start-up (upstreams, gateway, admin): slow on a loaded machine.
  it('demo starts the demo upstreams and the gateway, prints URLs and curl lines, and answers', { timeout: 45_000 }, async () => {
    unlockDemo = await lockDemoPorts()
    const port = await freePort()
    const adminPort = await freePort()
    child = spawn(process.execPath, [bin, 'demo'], { env: { ...process.env, SWITCHYARD_PORT: String(port), SWITCHYARD_ADMIN_PORT: String(adminPort) }, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout!.on('data', (d) => (out += d))
    child.stderr!.on('data', (d) => (out += d))
    await waitFor(() => out.includes('Ctrl-C'), 35_000, 50, 'demo banner')
    expect(out).toContain(`http://127.0.0.1:${port}`)
    expect(out).toContain(`dashboard: http://127.0.0.1:${adminPort}/`)
    expect(out).toMatch(/curl -i .*\/api\/users/)
    const res = await request(`http://127.0.0.1:${port}/api/users/7`)
    expect(res.statusCode).toBe(200)
    const body = (await res.body.json()) as { service: string; path: string }
    expect(body.service).toMatch(/^users-v[12]/)
    expect(body.path).toBe('/users/7')
    // The README's `$TOKEN`: the banner prints the line that sets it, and the token it sets works.
    const token = /^\s*export TOKEN=(\S+)/m.exec(out)?.[1]
    expect(token, 'the banner prints export TOKEN=...').toBeDefined()
    expect(out).toContain('curl -i -H "Authorization: Bearer $TOKEN"')
    const account = await request(`http://127.0.0.1:${port}/api/account`, { headers: { authorization: `Bearer ${token}` } })
    await account.body.dump()
    expect(account.statusCode).toBe(200)
    expect(out).toMatch(new RegExp(`kill -HUP ${child.pid}\\b`))
    const exited = new Promise<number | null>((r) => child!.once('exit', (c) => r(c)))
    child.kill('SIGTERM')
    expect(await exited).toBe(0)
  })
})
