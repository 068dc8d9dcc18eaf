/**
 * What ships to run Switchyard as a service: the systemd unit passes `systemd-analyze verify`,
 * the keepalived example passes keepalived's own configuration test, the compose example's
 * gateway files pass `check`, the Dockerfile has the shape docs/deployment.md promises (CI runs
 * no Docker engine), and `npm pack` ships what `npx switchyard` needs and nothing of the tests.
 */
import { describe, expect, it } from 'vitest'
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { analyse } from '../../src/config/normalize.js'
import { parseText } from '../../src/config/parse-text.js'

const root = resolve(import.meta.dirname, '../..')

function tool(path: string, pkg: string): boolean {
  if (existsSync(path)) return true
  if (process.env.CI === 'true') throw new Error(`${path} is required in CI but not installed (apt-get install ${pkg}; .ci/run does this)`)
  // eslint-disable-next-line no-console
  console.warn(`\n*** SKIPPING: ${path} not installed (apt-get install ${pkg}) ***\n`)
  return false
}

describe('packaging', () => {
  it.runIf(tool('/usr/bin/systemd-analyze', 'systemd'))('the systemd unit passes systemd-analyze verify (installed under this checkout)', () => {
    const unit = readFileSync(join(root, 'deploy/systemd/switchyard.service'), 'utf8')
    expect(unit).toMatch(/^ExecReload=\/bin\/kill -HUP \$MAINPID$/m)
    expect(unit).toMatch(/^NoNewPrivileges=yes$/m)
    expect(unit).toMatch(/^User=switchyard$/m)
    const dir = mkdtempSync(join(tmpdir(), 'sy-unit-'))
    try {
      // Verify checks that ExecStart's binary exists: point /opt/switchyard at this checkout.
      const file = join(dir, 'switchyard.service')
      writeFileSync(file, unit.replaceAll('/opt/switchyard', root))
      const r = spawnSync('/usr/bin/systemd-analyze', ['verify', file], { encoding: 'utf8' })
      expect(r.stderr).toBe('')
      expect(r.status).toBe(0)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it.runIf(tool('/usr/sbin/keepalived', 'keepalived'))('the keepalived example follows /ready and passes keepalived --config-test', () => {
    const conf = readFileSync(join(root, 'deploy/keepalived/keepalived.conf'), 'utf8')
    expect(conf).toContain('http://127.0.0.1:9901/ready')
    expect(conf).toMatch(/track_script\s*{\s*switchyard_ready\s*}/)
    expect(conf).toMatch(/^\s*script_user keepalived_script$/m)
    const dir = mkdtempSync(join(tmpdir(), 'sy-keepalived-'))
    try {
      // keepalived's config test stops itself with SIGTERM when it switches to an unprivileged
      // script user that this machine may not have; the user is a deployment step
      // (docs/fleet.md), so the test checks everything else with root as the script user.
      const file = join(dir, 'keepalived.conf')
      writeFileSync(file, conf.replace('script_user keepalived_script', 'script_user root'))
      const r = spawnSync('/usr/sbin/keepalived', ['--config-test', '-f', file], { encoding: 'utf8', timeout: 10_000 })
      expect(r.stderr).toBe('')
      expect(r.status).toBe(0)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('the compose example: the local file and the shared one are valid gateway configuration', () => {
    for (const name of ['local.yaml', 'shared.yaml']) {
      const parsed = parseText(readFileSync(join(root, 'deploy/compose', name), 'utf8'), 'yaml')
      expect(parsed.ok).toBe(true)
      const { problems } = analyse((parsed as { document: unknown }).document, { baseDir: join(root, 'deploy/compose') })
      expect(problems, name).toEqual([])
    }
    const compose = readFileSync(join(root, 'deploy/compose/docker-compose.yml'), 'utf8')
    for (const service of ['etcd:', 'redis:', 'gateway-a:', 'gateway-b:', 'config-push:']) expect(compose).toContain(service)
  })

  it('the Dockerfile is multi-stage, non-root, on the pinned Node major, checks /ready and stops on SIGTERM', () => {
    const file = readFileSync(join(root, 'Dockerfile'), 'utf8')
    const pinned = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> }).devDependencies.node!
    const froms = [...file.matchAll(/^FROM (\S+)/gm)].map((m) => m[1]!)
    expect(froms.length).toBe(2)
    for (const f of froms) expect(f).toBe(`node:${pinned.split('.')[0]}-bookworm-slim`)
    expect(file).toMatch(/^USER node$/m)
    expect(file).toMatch(/^HEALTHCHECK .*\n?.*\/ready/m)
    expect(file).toMatch(/^STOPSIGNAL SIGTERM$/m)
  })

  it('npm pack ships the CLI, the compiled code and the default config, and no tests', () => {
    const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
    const files = (JSON.parse(out) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path)
    for (const f of ['bin/switchyard.js', 'dist/src/index.js', 'dist/src/cli.js', 'config/gateway.yaml', 'package.json']) expect(files).toContain(f)
    expect(files.some((f) => f.startsWith('test/') || f.startsWith('dist/test/'))).toBe(false)
  })
})
