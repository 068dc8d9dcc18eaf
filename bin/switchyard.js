#!/usr/bin/env -S node --max-semi-space-size=16
// Thin launcher: the CLI lives in the compiled core so `npx switchyard` and `npm start`
// run the same code the tests exercise.
//
// Run directly (`./bin/switchyard.js`, `node bin/switchyard.js`) it may start on the machine's
// Node, which can be older than the project supports (missing HTTP parser fixes, APIs the
// gateway uses). Then it re-executes itself on the Node the project pins (the `node` package,
// node_modules/node/bin/node), or refuses with one clear line when that is not installed.
// Written for old Nodes too: nothing here may need more than Node 14.
//
// --max-semi-space-size=16 (the shebang, and the re-execution below): V8 lets the young
// generation grow to 64 MiB semi-spaces under a proxy's allocation rate, which alone took the
// gateway's RSS under load from ~200 to ~300 MiB; 16 MiB keeps most of the throughput
// (docs/benchmarks.md). The Dockerfile, the systemd unit and `npm start` pass the same flag.
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const MIN = [22, 12]
const [major, minor] = process.versions.node.split('.').map(Number)
const tooOld = major < MIN[0] || (major === MIN[0] && minor < MIN[1])

if (tooOld) {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..')
  const pinned = join(root, 'node_modules', 'node', 'bin', 'node')
  // SWITCHYARD_REEXEC marks the second start: a pinned Node that is itself too old must not loop.
  if (process.env.SWITCHYARD_REEXEC !== '1' && existsSync(pinned)) {
    const child = spawn(pinned, ['--max-semi-space-size=16', fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
      stdio: 'inherit',
      env: { ...process.env, SWITCHYARD_REEXEC: '1' },
    })
    // The child gets the terminal's Ctrl-C itself (same process group); kill -TERM/-HUP of this
    // process is passed on, so a supervisor that signals the pid it started reaches the gateway.
    for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(signal, () => child.kill(signal))
    child.on('exit', (code, signal) => {
      if (signal) {
        process.removeAllListeners(signal)
        process.kill(process.pid, signal)
      }
      else process.exit(code === null ? 1 : code)
    })
    child.on('error', (err) => {
      console.error(`switchyard: cannot run the pinned Node ${pinned}: ${err.message}`)
      process.exit(1)
    })
  } else {
    console.error(
      `switchyard: needs Node >= ${MIN.join('.')} (this is v${process.versions.node}); run \`npm install\` to get the pinned Node 24, or start it with Node 24`,
    )
    process.exit(1)
  }
} else {
  const { main } = await import('../dist/src/cli.js')
  main(process.argv.slice(2)).then(
    (code) => { if (typeof code === 'number') process.exitCode = code },
    (err) => { console.error(err?.stack ?? String(err)); process.exitCode = 1 },
  )
}
