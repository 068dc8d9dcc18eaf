#!/usr/bin/env node
// Runs the public HTTP cache test suite (github.com/http-tests/cache-tests, the suite behind
// cache-tests.fyi) against Switchyard with the default configuration: the suite's origin
// server as the only backend, one catch-all route with `cache: {}`, nothing else configured
// (listener ports aside). Scores the run with the suite's own rules (determineTestResult:
// dependencies honoured, `check` tests not scored, browser-only tests not run) and prints
// passed/failed required and optimal tests with every test id not passed.
//
// The suite is never part of this repository: check it out and install it elsewhere, e.g.
//   git clone https://github.com/http-tests/cache-tests /opt/cache-tests
//   (cd /opt/cache-tests && npm install --omit=dev)
// then, after `npm run build`:
//   npx node scripts/cache-conformance.mjs --suite /opt/cache-tests      (or CACHE_TESTS_DIR=…)
// Options:
//   --out FILE        also write the raw results JSON (the suite's own format) to FILE
//   --results FILE    score an earlier raw results file instead of running the suite
//   --write-docs      regenerate the results section of docs/caching.md
//   --json            print the summary as JSON
// Exit code: 0 when the run completed (whatever the score), 1 on a harness problem, 2 on usage.
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { connect, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join, relative, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'

const repo = resolve(import.meta.dirname, '..')

// Why each test we do not pass is not passed: a deliberate choice, or work not done. A test that
// fails without an entry here is a regression to look at.
const REASONS = {
  'headers-store-Set-Cookie':
    'deliberate: a response with `Set-Cookie` is never stored by default, so one client\'s cookie never reaches another. `storeSetCookie: true` on the route passes it.',
  'other-set-cookie': 'the same deliberate rule (`storeSetCookie: true` passes it).',
  'method-POST': 'not done: a POST response is never stored, so it cannot answer a later GET of its `Content-Location` (RFC 9111 §4 permits, never requires it).',
  'vary-normalise-lang-order': '`Accept-Language` is keyed as sent (lower-cased, whitespace normalised): order is preference, so two orders are two variants.',
  'vary-normalise-lang-select': 'no q-value matching of `Accept-Language` against stored variants: the key is the header as sent.',
  'conditional-lm-fresh-no-lm':
    'an `If-Modified-Since` older than the entry\'s `Date`, without `Last-Modified`, is answered 200: the entry may have changed after that date, so a 304 would claim what the cache cannot know (RFC 9110 §13.1.3).',
  'partial-': 'not done: partial (206) responses are not stored; ranges are served only from a complete stored 200.',
}

const args = process.argv.slice(2)
const flag = (name) => args.includes(name)
const option = (name) => {
  const i = args.indexOf(name)
  return i === -1 ? undefined : args[i + 1]
}

const suiteArg = option('--suite') ?? process.env.CACHE_TESTS_DIR
if (!suiteArg) {
  console.error('usage: scripts/cache-conformance.mjs --suite DIR (or CACHE_TESTS_DIR=DIR) [--out FILE] [--results FILE] [--write-docs] [--json]')
  console.error('DIR: a checkout of github.com/http-tests/cache-tests with its npm dependencies installed, outside this repository')
  process.exit(2)
}
const suite = resolve(suiteArg)
if (!relative(repo, suite).startsWith('..')) {
  console.error(`the suite must live outside the repository (got ${suite})`)
  process.exit(2)
}
// A git checkout keeps the engine in test-engine/; the npm package has it at its root.
const engine = existsSync(join(suite, 'test-engine', 'cli.mjs')) ? join(suite, 'test-engine') : suite
for (const need of [join(engine, 'cli.mjs'), join(engine, 'server', 'server.mjs'), join(suite, 'tests', 'index.mjs')]) {
  if (!existsSync(need)) {
    console.error(`not a cache-tests checkout: ${need} is missing`)
    process.exit(2)
  }
}
if (!existsSync(join(suite, 'node_modules'))) {
  console.error(`the suite's dependencies are not installed: run \`npm install --omit=dev\` in ${suite}`)
  process.exit(2)
}
if (!existsSync(join(repo, 'dist', 'src', 'cli.js'))) {
  console.error('dist/ is missing: run `npm run build` first')
  process.exit(2)
}

const { default: testSuites } = await import(pathToFileURL(join(suite, 'tests', 'index.mjs')).href)
const { determineTestResult, resultTypes } = await import(pathToFileURL(join(engine, 'lib', 'results.mjs')).href)

const resultsFile = option('--results')
const results = resultsFile ? JSON.parse(readFileSync(resultsFile, 'utf8')) : await run()
if (option('--out')) writeFileSync(option('--out'), JSON.stringify(results, null, 2) + '\n')

const ours = score(results)
if (flag('--json')) console.log(JSON.stringify(ours, null, 2))
else printSummary(ours)
if (flag('--write-docs')) await writeDocs(ours)

// ---------------------------------------------------------------------------------------------

async function run() {
  const work = mkdtempSync(join(tmpdir(), 'switchyard-cache-conformance-'))
  const children = []
  const stop = () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM')
  }
  process.once('SIGINT', () => {
    stop()
    process.exit(130)
  })
  try {
    const [originPort, gatewayPort, adminPort] = await Promise.all([freePort(), freePort(), freePort()])
    const origin = spawn(process.execPath, [join(engine, 'server', 'server.mjs')], {
      cwd: suite,
      env: { ...process.env, npm_config_protocol: 'http', npm_config_port: String(originPort), npm_config_pidfile: join(work, 'server.pid') },
      stdio: ['ignore', 'ignore', 'inherit'],
    })
    children.push(origin)
    // The default configuration: one catch-all route, `cache: {}`, nothing else (listeners
    // on free local ports so runs never collide).
    const config = join(work, 'gateway.yaml')
    writeFileSync(
      config,
      [
        `server: { host: 127.0.0.1, port: ${gatewayPort} }`,
        `admin: { host: 127.0.0.1, port: ${adminPort} }`,
        `log: { level: warn, access: false }`,
        `pools:`,
        `  origin: { backends: [http://127.0.0.1:${originPort}] }`,
        `routes:`,
        `  - { name: all, match: { path: / }, pool: origin, cache: {} }`,
        '',
      ].join('\n'),
    )
    const gateway = spawn(process.execPath, [join(repo, 'bin', 'switchyard.js'), 'start', '-c', config], { cwd: repo, stdio: ['ignore', 'ignore', 'inherit'] })
    children.push(gateway)
    await Promise.all([waitForPort(originPort, origin), waitForPort(gatewayPort, gateway)])

    const cli = spawn(process.execPath, ['--no-warnings', join(engine, 'cli.mjs')], {
      cwd: suite,
      env: { ...process.env, npm_config_base: `http://127.0.0.1:${gatewayPort}`, npm_config_id: '', npm_package_config_id: '' },
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    children.push(cli)
    let out = ''
    cli.stdout.setEncoding('utf8').on('data', (c) => (out += c))
    const code = await new Promise((res) => cli.once('exit', res))
    if (code !== 0) throw new Error(`the suite's client exited with ${code}`)
    return JSON.parse(out)
  } catch (err) {
    stop()
    rmSync(work, { recursive: true, force: true })
    console.error(`cache conformance run failed: ${err.message}`)
    process.exit(1)
  } finally {
    stop()
    rmSync(work, { recursive: true, force: true })
  }
}

function freePort() {
  return new Promise((res, rej) => {
    const s = createServer()
    s.once('error', rej)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => res(port))
    })
  })
}

async function waitForPort(port, child) {
  const deadline = Date.now() + 20_000
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`process for port ${port} exited with ${child.exitCode}`)
    const ok = await new Promise((res) => {
      const socket = connect(port, '127.0.0.1')
      socket.once('connect', () => {
        socket.destroy()
        res(true)
      })
      socket.once('error', () => res(false))
    })
    if (ok) return
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`nothing listening on port ${port} after 20 s`)
}

/** The suite's own scoring, over the tests a reverse proxy runs. */
function score(res) {
  const kinds = { required: { passed: [], notPassed: [] }, optimal: { passed: [], notPassed: [] } }
  let browserOnly = 0
  for (const s of testSuites) {
    for (const t of s.tests) {
      const kind = t.kind ?? 'required'
      if (kind === 'check') continue
      if (t.browser_only === true) {
        browserOnly++
        continue
      }
      const r = determineTestResult(testSuites, t.id, res)
      const name = Object.keys(resultTypes).find((k) => resultTypes[k] === r) ?? 'unknown'
      if (r === resultTypes.pass) kinds[kind].passed.push(t.id)
      else kinds[kind].notPassed.push({ id: t.id, result: name, detail: Array.isArray(res[t.id]) ? res[t.id].join(': ') : res[t.id] === undefined ? 'not run' : String(res[t.id]) })
    }
  }
  return { kinds, browserOnly }
}

function printSummary({ kinds, browserOnly }) {
  for (const kind of ['required', 'optimal']) {
    const k = kinds[kind]
    const total = k.passed.length + k.notPassed.length
    const failed = k.notPassed.filter((n) => n.result === 'fail' || n.result === 'optional_fail').length
    console.log(`${kind}: ${k.passed.length} passed of ${total} run, ${failed} failed, ${k.notPassed.length - failed} not passed for other reasons (setup, dependency, harness)`)
    for (const n of k.notPassed) console.log(`  ${n.id}  [${n.result}]  ${n.detail}`)
  }
  console.log(`(${browserOnly} browser-only tests are not run against a reverse proxy; check tests are not scored)`)
}

/** The results section of docs/caching.md, between its markers, with the caches the suite ships results for. */
async function writeDocs({ kinds, browserOnly }) {
  const docPath = join(repo, 'docs', 'caching.md')
  const doc = readFileSync(docPath, 'utf8')
  const start = '<!-- cache-conformance:start -->'
  const end = '<!-- cache-conformance:end -->'
  if (!doc.includes(start) || !doc.includes(end)) throw new Error(`docs/caching.md lacks the ${start} / ${end} markers`)
  const rows = [row('**Switchyard** (`cache: {}`)', kinds, true)]
  const indexFile = join(suite, 'results', 'index.mjs')
  if (existsSync(indexFile)) {
    const { default: index } = await import(pathToFileURL(indexFile).href)
    for (const impl of index.filter((i) => i.type === 'rev-proxy' || i.type === 'cdn')) {
      const theirs = score(JSON.parse(readFileSync(join(suite, 'results', impl.file), 'utf8'))).kinds
      rows.push(row(`${impl.name} ${impl.version}`, theirs, false))
    }
  }
  const req = kinds.required.passed.length + kinds.required.notPassed.length
  const opt = kinds.optimal.passed.length + kinds.optimal.notPassed.length
  const lines = [
    start,
    `| cache | required passed (of ${req}) | optimal passed (of ${opt}) | required not passed |`,
    '| --- | --- | --- | --- |',
    ...rows,
    '',
    `Generated by \`scripts/cache-conformance.mjs --write-docs\` from the suite at version ${suiteVersion()} (${browserOnly} browser-only tests are not run; \`check\` tests are not scored).`,
    '',
    'Required tests not passed:',
    '',
    ...kinds.required.notPassed.map(explain),
    '',
    'Optimal tests not passed:',
    '',
    ...kinds.optimal.notPassed.map(explain),
    end,
  ]
  writeFileSync(docPath, doc.slice(0, doc.indexOf(start)) + lines.join('\n') + doc.slice(doc.indexOf(end) + end.length))
  console.log(`docs/caching.md updated`)
}

function explain(n) {
  const key = Object.keys(REASONS).find((k) => n.id === k || (k.endsWith('-') && n.id.startsWith(k)))
  return `- \`${n.id}\` (${n.result.replace('_', ' ')}): ${key ? REASONS[key] : `no reason recorded; harness says: ${n.detail}`}`
}

function suiteVersion() {
  try {
    return JSON.parse(readFileSync(join(suite, 'package.json'), 'utf8')).version ?? 'unknown'
  } catch {
    return 'unknown'
  }
}

function row(name, k, bold) {
  const b = (v) => (bold ? `**${v}**` : String(v))
  return `| ${name} | ${b(k.required.passed.length)} | ${b(k.optimal.passed.length)} | ${b(k.required.notPassed.length)} |`
}
