/**
 * Packages only some configurations need (etcd, Redis, ACME, OTLP export) are loaded the first
 * time they are used, not at start: together they held ~100 MiB of RSS in every gateway
 * process, whether or not its configuration named them. They are CommonJS, so a synchronous
 * `require` keeps the callers' APIs synchronous.
 */
import { createRequire } from 'node:module'

const load = createRequire(import.meta.url)

/** `id`'s exports, loaded on the first call. */
export function lazyModule<T>(id: string): () => T {
  let exports: T | undefined
  return () => (exports ??= load(id) as T)
}
