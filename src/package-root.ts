/** The package root (where package.json is), from src/ under vitest or dist/src/ when built. */
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (let i = 0; i < 5; i++) {
    if (existsSync(join(dir, 'package.json'))) return dir
    dir = dirname(dir)
  }
  throw new Error('switchyard: package.json not found above ' + fileURLToPath(import.meta.url))
}

export const packageRoot = findRoot()
export const packageVersion: string = (JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version: string }).version
export const defaultConfigPath = join(packageRoot, 'config', 'gateway.yaml')
