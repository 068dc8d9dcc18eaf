/**
 * Tolerant readers used by normalisation. Normalisation runs even on documents that failed
 * schema validation (so semantic problems are reported in the same pass); a value of the wrong
 * type reads as "absent" here, because validation has already reported it.
 */
import { isAbsolute, resolve } from 'node:path'
import type { ConfigProblem } from './errors.js'
import { tryParseDuration, tryParseSize } from './units.js'

export type RawObject = Readonly<Record<string, unknown>>

/** A file a setting refers to, for `check` to verify it can be read. */
export interface FileReference {
  readonly path: string
  readonly file: string
}

export class NormalizeContext {
  readonly problems: ConfigProblem[] = []
  readonly files: FileReference[] = []
  /** Paths of `jwt:CLAIM` key sources, which need the top-level jwt section. */
  readonly jwtKeyUses: string[] = []
  constructor(readonly baseDir: string) {}

  problem(path: string, message: string): void {
    this.problems.push({ path, message })
  }

  /** A file path resolved against the configuration file's directory, remembered for `check`. */
  file(path: string, value: string): string {
    const file = isAbsolute(value) ? value : resolve(this.baseDir, value)
    this.files.push({ path, file })
    return file
  }
}

export function asObject(value: unknown): RawObject | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as RawObject) : undefined
}

export function asArray(value: unknown): readonly unknown[] {
  return Array.isArray(value) ? value : []
}

export function asString(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined
}

export function asBoolean(value: unknown, fallback: boolean): boolean {
  return typeof value === 'boolean' ? value : fallback
}

export function asInteger(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isInteger(value) ? value : fallback
}

export function asNumber(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : fallback
}

export function asDuration(value: unknown, fallback: number): number {
  return tryParseDuration(value) ?? fallback
}

export function asSize(value: unknown, fallback: number): number {
  return tryParseSize(value) ?? fallback
}
