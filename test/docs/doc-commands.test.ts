/**
 * The doc-tester: every ```sh block of README.md and docs/*.md runs, as written, against a
 * started demo (`switchyard demo`), so no command in the docs can drift from what the gateway
 * does. The only edits are the demo's ports (the docs say 8080 and 9901; the test binds free
 * ones). `$TOKEN` comes from the `export TOKEN=` line the demo banner prints, as a reader gets it.
 *
 * A block runs under `bash -euo pipefail`: every command must succeed. A command whose comment
 * names a status (`curl -i … # 404 JSON`) must answer that status; no command may get a 5xx
 * from the gateway. Variables a block assigns (`ADMIN=…`) are set for the later blocks of the
 * same page, as a reader's shell keeps them.
 *
 * A block that cannot run here (it starts a server that runs until stopped, installs from the
 * network, needs a certificate authority) is marked on the line before its fence:
 * `<!-- not-run: why -->`. Keep those few; the test lists them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { freePort, waitFor } from '../helpers/upstream.js'
import { lockDemoPorts } from '../helpers/demo-lock.js'

const root = resolve(import.meta.dirname, '../..')
const PAGES = ['README.md', ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)]
const NOT_RUN = /^<!--\s*not-run:\s*(.*?)\s*-->$/
/**
 * At most this share of the blocks may be exempt: the doc-tester is the rule, not the exception
 * (Docker, systemd, etcd, certbot, grpcurl and minutes-long walkthroughs are the exceptions).
 */
const MAX_NOT_RUN_SHARE = 0.4

interface Block {
  readonly page: string
  readonly line: number
  readonly text: string
  readonly notRun: string | undefined
}

/** The ```sh / ```bash blocks of a page, with the not-run mark of the line before each. */
function shellBlocks(page: string, markdown: string): Block[] {
  const lines = markdown.split('\n')
  const out: Block[] = []
  for (let i = 0; i < lines.length; i++) {
    if (!/^```(sh|bash|shell)\s*$/.test(lines[i]!)) continue
    let prev = i - 1
    while (prev >= 0 && lines[prev]!.trim() === '') prev--
    const mark = prev >= 0 ? NOT_RUN.exec(lines[prev]!.trim()) : null
    const start = i + 1
    let end = start
    while (end < lines.length && !lines[end]!.startsWith('```')) end++
    out.push({ page, line: i + 1, text: lines.slice(start, end).join('\n'), notRun: mark === null ? undefined : mark[1] })
    i = end
  }
  return out
}

/** Logical commands of a block: continuation lines joined, blank and comment-only lines dropped. */
function commands(text: string): string[] {
  const out: string[] = []
  let current = ''
  for (const line of text.split('\n')) {
    current += (current ? '\n' : '') + line
    if (line.endsWith('\\')) continue
    if (current.trim() !== '' && !current.trim().startsWith('#')) out.push(current)
    current = ''
  }
  if (current.trim() !== '') out.push(current)
  return out
}

/** The status a command's trailing comment promises (`# 404 JSON`, `# 401, WWW-Authenticate…`). */
function promisedStatus(command: string): number | undefined {
  const m = /#\s*(\d{3})\b[^'"]*$/.exec(command.split('\n').at(-1)!)
  return m === null ? undefined : Number(m[1])
}

const blocks = PAGES.flatMap((page) => shellBlocks(page, readFileSync(join(root, page), 'utf8')))
let demo: ChildProcess | undefined
let unlock: (() => void) | undefined
let banner = ''
let port = 0
let adminPort = 0
let token = ''

beforeAll(async () => {
  expect(existsSync(join(root, 'dist/src/cli.js')), 'dist/ missing: npm test builds it (pretest)').toBe(true)
  for (const tool of ['curl', 'jq']) {
    const found = await new Promise<boolean>((r) => execFile('sh', ['-c', `command -v ${tool}`], (err) => r(err === null)))
    expect(found, `${tool} is needed by the doc-tester (.ci/run installs it)`).toBe(true)
  }
  unlock = await lockDemoPorts()
  port = await freePort()
  adminPort = await freePort()
  demo = spawn(process.execPath, [join(root, 'bin/switchyard.js'), 'demo'], {
    cwd: root,
    env: { ...process.env, SWITCHYARD_PORT: String(port), SWITCHYARD_ADMIN_PORT: String(adminPort), SWITCHYARD_ADMIN_TOKEN: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  demo.stdout!.on('data', (d) => (banner += d))
  demo.stderr!.on('data', (d) => (banner += d))
  await waitFor(() => banner.includes('Ctrl-C'), 35_000, 50, 'demo banner')
  token = /^\s*export TOKEN=(\S+)/m.exec(banner)?.[1] ?? ''
  // The demo ports may be held by the CLI's demo test first (lockDemoPorts), then start-up.
}, 120_000)

afterAll(async () => {
  if (demo && demo.exitCode === null) {
    const gone = new Promise((r) => demo!.once('exit', r))
    demo.kill('SIGTERM')
    await gone
  }
  unlock?.()
})

function run(script: string): Promise<{ code: number; out: string }> {
  return new Promise((done) => {
    execFile(
      'bash',
      ['-euo', 'pipefail', '-c', script],
      {
        cwd: root,
        timeout: 20_000,
        env: { ...process.env, PATH: `${join(root, 'node_modules/.bin')}:${process.env.PATH}`, TOKEN: token, SWITCHYARD_ADMIN_TOKEN: '', SWITCHYARD_PORT: String(port), SWITCHYARD_ADMIN_PORT: String(adminPort) },
      },
      (err, stdout, stderr) => done({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, out: stdout + stderr }),
    )
  })
}

/** The docs' demo addresses, pointed at this demo's ports. */
function localised(text: string): string {
  return text.replace(/\b(?:127\.0\.0\.1|localhost):8080\b/g, `127.0.0.1:${port}`).replace(/\b(?:127\.0\.0\.1|localhost):9901\b/g, `127.0.0.1:${adminPort}`)
}

describe('doc-tester', () => {
  it('finds the blocks, and only a few are marked not-run, each with its reason', () => {
    expect(blocks.filter((b) => b.notRun === undefined).length).toBeGreaterThan(15)
    const exempt = blocks.filter((b) => b.notRun !== undefined)
    for (const b of exempt) expect(b.notRun, `${b.page}:${b.line} needs a reason`).not.toBe('')
    expect(exempt.length, exempt.map((b) => `${b.page}:${b.line}`).join(', ')).toBeLessThanOrEqual(Math.floor(blocks.length * MAX_NOT_RUN_SHARE))
  })

  it('the demo banner gives the TOKEN the README uses', () => {
    expect(token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/)
  })

  for (const page of PAGES) {
    const runnable = blocks.filter((b) => b.page === page && b.notRun === undefined)
    if (runnable.length === 0) continue
    describe(page, () => {
      // Assignments of earlier blocks of the page, as the reader's shell still has them.
      const assignments: string[] = []
      for (const block of runnable) {
        const prelude = [...assignments]
        for (const line of block.text.split('\n')) if (/^[A-Z_][A-Z0-9_]*=/.test(line)) assignments.push(line)
        it(`${page}:${block.line} runs`, async () => {
          const cmds = commands(localised(block.text))
          const script = [...prelude.map(localised), ...cmds.flatMap((c, i) => [`printf '\\n@@${i}\\n'`, c])].join('\n')
          const r = await run(script)
          expect(r.code, `${page}:${block.line} exited ${r.code}:\n${r.out}`).toBe(0)
          const outputs = r.out.split(/\n@@\d+\n/).slice(1)
          cmds.forEach((c, i) => {
            const out = outputs[i] ?? ''
            expect(out, `${page}:${block.line}: ${c}\ngot a gateway 5xx:\n${out}`).not.toMatch(/^HTTP\/1\.1 5\d\d|"statusCode":5\d\d/m)
            const status = promisedStatus(c)
            if (status !== undefined) expect(out, `${page}:${block.line}: ${c}\npromises ${status}:\n${out}`).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `, 'm'))
          })
        })
      }
    })
  }
})
