#!/usr/bin/env node
// Writes config/gateway.schema.json from the TypeBox source (src/config/schema.ts), which
// Node >= 22.18 loads directly through type stripping: no build step, never a stale dist/.
// Run with the project's Node: `npx node scripts/write-schema.mjs` (or `npm run schema`).
// `--check` exits 1 when the committed file differs instead of writing it.
import { readFile, writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'

const { gatewayJsonSchema } = await import('../src/config/schema.ts')
const target = fileURLToPath(new URL('../config/gateway.schema.json', import.meta.url))
const text = JSON.stringify(gatewayJsonSchema(), null, 2) + '\n'

if (process.argv.includes('--check')) {
  const current = await readFile(target, 'utf8').catch(() => '')
  if (current !== text) {
    console.error(`${target} is out of date: run npx node scripts/write-schema.mjs`)
    process.exit(1)
  }
  console.log(`${target} is up to date`)
} else {
  await writeFile(target, text)
  console.log(`wrote ${target}`)
}
