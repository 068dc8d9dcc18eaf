// Shared by the config tests: the `path: message` lines a configuration produces.
import { ConfigError, normalizeConfig, parseConfigText, type Env } from '../../src/config/index.js'

/** Lines of the ConfigError thrown for YAML `text`; fails the test when the text is valid. */
export function linesOfYaml(text: string, env: Env = {}): string[] {
  try {
    parseConfigText(text, { env })
  } catch (error) {
    if (error instanceof ConfigError) return error.lines()
    throw error
  }
  throw new Error('expected the configuration to be refused, but it was accepted')
}

/** Lines of the ConfigError thrown for an already parsed object. */
export function linesOfObject(raw: unknown, env: Env = {}): string[] {
  try {
    normalizeConfig(raw, { env })
  } catch (error) {
    if (error instanceof ConfigError) return error.lines()
    throw error
  }
  throw new Error('expected the configuration to be refused, but it was accepted')
}

/** A minimal valid document to which a test adds the part it is about. */
export const BASE_POOLS = `
pools:
  a:
    backends: [http://127.0.0.1:9001]
  b:
    backends: [http://127.0.0.1:9002]
`
