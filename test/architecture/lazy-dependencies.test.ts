/**
 * Packages only some configurations need are loaded on first use (src/lazy-module.ts): a
 * gateway whose configuration names no etcd, Redis, ACME, OTLP export or GeoIP database never
 * loads them (together they held ~100 MiB of RSS in every process).
 */
import { createRequire } from 'node:module'
import { afterEach, describe, expect, it } from 'vitest'
import { simpleConfig, startGateway, type StartedGateway } from '../helpers/gateway.js'
import { startUpstream, type TestUpstream } from '../helpers/upstream.js'

const LAZY = ['etcd3', 'ioredis', 'acme-client', '@opentelemetry/exporter-trace-otlp-http', '@opentelemetry/sdk-trace-base', 'maxmind']

function loaded(): string[] {
  const cache = createRequire(import.meta.url).cache
  return LAZY.filter((pkg) => Object.keys(cache).some((file) => file.includes(`/node_modules/${pkg}/`)))
}

let gw: StartedGateway | undefined
let up: TestUpstream | undefined
afterEach(async () => {
  await gw?.close()
  await up?.close()
})

describe('optional dependencies', () => {
  it('are not loaded by a gateway whose configuration does not use them', async () => {
    up = await startUpstream('lazy')
    gw = await startGateway(simpleConfig([up.url]))
    const res = await fetch(`${gw.url}/x`)
    expect(res.status).toBe(200)
    expect(loaded()).toEqual([])
  })

  it('are loaded when the configuration asks for them (a Redis rate-limit store)', async () => {
    up = await startUpstream('lazy')
    // Nothing listens on port 9: the store is created (and its package loaded) without a connection.
    gw = await startGateway(simpleConfig([up.url], { top: { rateLimit: { store: 'redis', redis: 'redis://127.0.0.1:9' } } }))
    expect(loaded()).toContain('ioredis')
  })
})
