/**
 * A cache-miss flood (issue 12): thousands of distinct URLs, each with a body, against a real
 * upstream on 127.0.0.1 whose responses take a moment to finish, so fills pile up. The store
 * stays within maxSize, the bytes buffered for storage stay within the fill bound, and every
 * request is still answered 200 with its whole body: past the bound a miss streams through
 * uncached (`Cache-Status: …; detail=shed`), counted as result="shed" and logged once.
 */
import { Agent, request } from 'undici'
import { afterEach, describe, expect, it } from 'vitest'
import { fillLimits } from '../../src/cache/fill-budget.js'
import { cacheServiceOf } from '../../src/cache/registry.js'
import { cacheRig, send, type CacheRig } from './e2e-harness.js'

let rig: CacheRig | undefined
let agent: Agent | undefined
afterEach(async () => {
  await agent?.close()
  await rig?.close()
  rig = agent = undefined
})

const bodyOf = (url: string): string => url.padEnd(2048, '.')

describe('cache: a miss flood is shed, not buffered without bound', () => {
  it('keeps the store within maxSize and fills within their bound, answering every request 200', async () => {
    const maxSize = 256 * 1024
    const maxEntrySize = 16 * 1024
    const limits = fillLimits(maxSize, maxEntrySize)
    rig = await cacheRig(
      (req, res) => {
        const body = bodyOf(req.url ?? '')
        res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=600', 'content-length': String(body.length) })
        // Half now, the rest a little later: the gateway holds many fills open at once.
        res.write(body.slice(0, 1024))
        setTimeout(() => res.end(body.slice(1024)), 5)
      },
      { top: { cache: { maxSize, maxEntrySize } } },
    )
    const service = cacheServiceOf(rig.gw.handle)!
    let maxStored = 0
    let maxFillBytes = 0
    const sample = setInterval(() => {
      void service.store.stats().then((s) => (maxStored = Math.max(maxStored, s.bytes)))
      maxFillBytes = Math.max(maxFillBytes, service.fills!.stats().bytes)
    }, 2)

    agent = new Agent({ connections: 200 })
    const total = 2000
    const statuses = new Map<string, number>()
    let next = 0
    let wrong = 0
    const worker = async (): Promise<void> => {
      while (next < total) {
        const url = `/flood/${next++}?r=${Math.random().toString(36).slice(2)}`
        const res = await request(rig!.gw.url + url, { dispatcher: agent })
        const text = await res.body.text()
        if (res.statusCode !== 200 || text !== bodyOf(url)) wrong++
        const cs = String(res.headers['cache-status'])
        statuses.set(cs, (statuses.get(cs) ?? 0) + 1)
      }
    }
    try {
      await Promise.all(Array.from({ length: 100 }, worker))
    } finally {
      clearInterval(sample)
    }

    expect(wrong).toBe(0)
    const stored = statuses.get('switchyard; fwd=miss; stored') ?? 0
    const shed = statuses.get('switchyard; fwd=miss; detail=shed') ?? 0
    expect(stored + shed).toBe(total)
    expect(stored).toBeGreaterThan(0)
    expect(shed).toBeGreaterThan(0)

    // The store's own accounting (entries sized with their fixed overhead) never passed maxSize.
    const now = await service.store.stats()
    expect(Math.max(maxStored, now.bytes)).toBeLessThanOrEqual(maxSize)
    expect(now.entries).toBeLessThanOrEqual(Math.floor(maxSize / 2048))
    // In-flight fills never held more than their bound, by count or bytes; all are released.
    const f = service.fills!.stats()
    expect(f.peakBytes).toBeLessThanOrEqual(limits.maxBytes)
    expect(maxFillBytes).toBeLessThanOrEqual(limits.maxBytes)
    expect(f.peakFills).toBeLessThanOrEqual(limits.maxFills)
    expect(f).toMatchObject({ fills: 0, bytes: 0, shed })

    const metrics = (await send(rig.gw.adminUrl!, '/metrics')).body
    expect(metrics).toContain(`switchyard_cache_requests_total{route="cached",result="shed"} ${shed}`)
    expect(metrics).toContain(`switchyard_cache_requests_total{route="cached",result="miss"} ${stored}`)
    // Logged at most once per interval (10 s), not once per shed request.
    expect(rig.gw.logs.filter((l) => l.msg === 'cache fills at their bound: misses pass through uncached')).toHaveLength(1)
  }, 20_000)
})
