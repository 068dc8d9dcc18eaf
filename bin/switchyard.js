#!/usr/bin/env node
// Thin launcher: the CLI lives in the compiled core so `npx switchyard` and `npm start`
// run the same code the tests exercise.
import { main } from '../dist/src/cli.js'

main(process.argv.slice(2)).then(
  (code) => { if (typeof code === 'number') process.exitCode = code },
  (err) => { console.error(err?.stack ?? String(err)); process.exitCode = 1 },
)
