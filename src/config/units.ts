/**
 * Durations and sizes as users write them. Sizes are 1024-based (1kb = 1024 bytes), like
 * NGINX's `k`/`m` suffixes, because limits are compared with buffer lengths.
 */
import { InvalidUnitError } from './errors.js'

const DURATION = /^([0-9]+(?:\.[0-9]+)?)\s*(ms|s|m|h|d)?$/
const SIZE = /^([0-9]+(?:\.[0-9]+)?)\s*(b|kb|mb|gb)?$/i

const DURATION_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }
const SIZE_BYTES: Readonly<Record<string, number>> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 }

/** Milliseconds for `250ms`, `5s`, `1m`, `1h`, `1d`, bare digits or a number; undefined when invalid. */
export function tryParseDuration(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? Math.round(value) : undefined
  if (typeof value !== 'string') return undefined
  const m = DURATION.exec(value.trim())
  if (m === null) return undefined
  return Math.round(Number(m[1]) * DURATION_MS[m[2] ?? 'ms']!)
}

/** Bytes for `512kb`, `1mb`, `64mb`, `1gb` (1024-based), bare digits or a number; undefined when invalid. */
export function tryParseSize(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? Math.floor(value) : undefined
  if (typeof value !== 'string') return undefined
  const m = SIZE.exec(value.trim())
  if (m === null) return undefined
  return Math.floor(Number(m[1]) * SIZE_BYTES[(m[2] ?? 'b').toLowerCase()]!)
}

/** Milliseconds for a duration; throws SWITCHYARD_INVALID_UNIT when it is not one. */
export function parseDuration(value: number | string): number {
  const ms = tryParseDuration(value)
  if (ms === undefined) throw new InvalidUnitError(`invalid duration ${JSON.stringify(value)}: use milliseconds or 250ms, 5s, 1m, 1h, 1d`)
  return ms
}

/** Bytes for a size; throws SWITCHYARD_INVALID_UNIT when it is not one. */
export function parseSize(value: number | string): number {
  const bytes = tryParseSize(value)
  if (bytes === undefined) throw new InvalidUnitError(`invalid size ${JSON.stringify(value)}: use bytes or 512kb, 1mb, 64mb, 1gb`)
  return bytes
}
