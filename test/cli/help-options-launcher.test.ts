/**
 * The command line as an operator meets it: `COMMAND --help` prints and runs nothing, an option
 * a command does not know is a one-line usage error (exit 2), `-c` defaults to the working
 * directory's config/gateway.yaml, and bin/switchyard.js started on a Node older than 22.12
 * re-executes itself on the pinned Node (or refuses with one line when there is none).
 */
import { afterEach, describe, expect, it } from 'vitest'
import { execFile } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { freePort } from '../helpers/upstream.js'

const root = resolve(import.meta.dirname, '../..')
const bin = join(root, 'bin/switchyard.js')
const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version
// Makes the Node that runs the launcher report an old version (the preload is not passed on).
const PRETEND_OLD = 'data:text/javascript,Object.defineProperty(process,"versions",{value:{...process.versions,node:"20.0.0"}})'
let dir: string | undefined
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true })
  dir = undefined
})

interface Run {
  code: number
  stdout: string
  stderr: string
}

function run(args: string[], opts: { cwd?: string; nodeArgs?: string[]; script?: string } = {}): Promise<Run> {
  expect(existsSync(join(root, 'dist/src/cli.js')), 'dist/ missing: npm test builds it (pretest)').toBe(true)
  return new Promise((done) => {
    // A kill after 40 s: a command that starts a gateway instead of answering fails here, not by
    // hanging (a CLI answers in ~1 s idle, several seconds on a loaded CI machine).
    execFile(process.execPath, [...(opts.nodeArgs ?? []), opts.script ?? bin, ...args], { cwd: opts.cwd ?? root, timeout: 40_000, env: { ...process.env, SWITCHYARD_REEXEC: '' } }, (err, stdout, stderr) => {
      const e = err as (Error & { code?: number; killed?: boolean }) | null
      done({ code: e === null ? 0 : e.killed ? -1 : (e.code ?? -1), stdout, stderr })
    })
  })
}

function tmp(): string {
  return (dir ??= mkdtempSync(join(tmpdir(), 'sy-cli-opts-')))
}

describe('per-command --help', () => {
  it('start --help prints the start usage and exits 0 without starting a gateway', async () => {
    const port = await freePort()
    const f = join(tmp(), 'gw.yaml')
    writeFileSync(f, `server: { host: 127.0.0.1, port: ${port} }\nadmin: false\npools: { p: { backends: [http://127.0.0.1:9] } }\nroutes: [{ name: r, match: { path: / }, pool: p }]\n`)
    const r = await run(['start', '-c', f, '--help'])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/^usage: switchyard start \[-c FILE\]/)
    expect(r.stdout + r.stderr).not.toContain('listening')
  }, 60_000)

  it('every built-in command has its own help; `help COMMAND` says the same', async () => {
    const commands = ['check', 'demo', 'schema', 'explain', 'config']
    const results = await Promise.all(commands.map((command) => run([command, '-h'])))
    commands.forEach((command, i) => {
      expect(results[i]!.code, command).toBe(0)
      expect(results[i]!.stdout, command).toMatch(new RegExp(`^usage: switchyard ${command}`))
    })
    const viaHelp = await run(['help', 'explain'])
    expect(viaHelp.stdout).toMatch(/^usage: switchyard explain/)
  }, 60_000)
})

describe('unknown options', () => {
  it('a misspelt option is one line on stderr and exit 2, and nothing starts', async () => {
    const r = await run(['start', '--conifg', 'x.yaml'])
    expect(r.code).toBe(2)
    expect(r.stdout).toBe('')
    expect(r.stderr).toBe('switchyard start: unknown option --conifg (see switchyard start --help)\n')
  }, 60_000)

  it('holds for contributed commands and top-level options too', async () => {
    const [explain, top] = await Promise.all([run(['explain', '-c', 'config/gateway.yaml', 'GET', '/x', '--verbose']), run(['--frobnicate'])])
    expect(explain.code).toBe(2)
    expect(explain.stderr.trim().split('\n')).toHaveLength(1)
    expect(top).toMatchObject({ code: 2, stderr: 'switchyard: unknown option --frobnicate (see switchyard --help)\n' })
  }, 60_000)
})

describe('--version', () => {
  it("prints Switchyard's own version and the Node that runs it", async () => {
    const r = await run(['--version'])
    expect(r).toMatchObject({ code: 0, stdout: `switchyard ${version} (node ${process.version})\n` })
  }, 60_000)
})

describe('-c default', () => {
  it('is ./config/gateway.yaml of the working directory when it exists', async () => {
    const cwd = tmp()
    mkdirSync(join(cwd, 'config'))
    writeFileSync(join(cwd, 'config/gateway.yaml'), 'routes: [{ name: r, match: { path: / }, pool: from-the-working-directory }]\n')
    const r = await run(['check'], { cwd })
    expect(r.code).toBe(1)
    expect(r.stdout).toContain('unknown pool "from-the-working-directory"')
  }, 60_000)

  it("else the package's configuration", async () => {
    const r = await run(['check'], { cwd: tmp() })
    expect(r).toMatchObject({ code: 0, stdout: 'ok\n' })
  }, 60_000)
})

describe('bin/switchyard.js on an old Node', () => {
  it('re-executes itself on the pinned Node (node_modules/node) and passes the arguments and exit code on', async () => {
    expect(existsSync(join(root, 'node_modules/node/bin/node')), 'the pinned Node (devDependency "node") is installed').toBe(true)
    const [r, bad] = await Promise.all([run(['--version'], { nodeArgs: ['--import', PRETEND_OLD] }), run(['start', '--nope'], { nodeArgs: ['--import', PRETEND_OLD] })])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/^switchyard \S+ \(node v24\./)
    expect(bad.code).toBe(2)
  }, 60_000)

  it('refuses with one clear line when no pinned Node is installed', async () => {
    const d = tmp()
    mkdirSync(join(d, 'bin'))
    copyFileSync(bin, join(d, 'bin/switchyard.js'))
    writeFileSync(join(d, 'package.json'), '{"type":"module"}')
    const r = await run(['--version'], { nodeArgs: ['--import', PRETEND_OLD], script: join(d, 'bin/switchyard.js') })
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/^switchyard: needs Node >= 22\.12 \(this is v20\.0\.0\); run `npm install`/)
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
  }, 60_000)
})
