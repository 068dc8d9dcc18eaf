/**
 * The pre-bound hot-path series (src/metrics/fast-series.ts) expose exactly what prom-client's
 * Counter and Histogram expose for the same updates: the /metrics text byte for byte, in both
 * content types, and the JSON form, including series order, values past the last bucket,
 * values on a bound, reset and remove.
 */
import { describe, expect, it } from 'vitest'
import { Counter, Histogram, Registry } from 'prom-client'
import { ChildCache, FastCounter, FastHistogram } from '../../src/metrics/fast-series.js'
import { LATENCY_BUCKETS } from '../../src/metrics.js'

type Label = 'route' | 'pool' | 'status'

function pair(openMetrics = false) {
  const prom = new Registry()
  const fast = new Registry()
  if (openMetrics) for (const r of [prom, fast]) r.setContentType(Registry.OPENMETRICS_CONTENT_TYPE as never)
  const opts = { name: 'sy_requests_total', help: 'Requests "answered"\nby route', labelNames: ['route', 'pool', 'status'] as Label[] }
  const hopts = { name: 'sy_duration_seconds', help: 'Time', labelNames: ['route'] as const, buckets: LATENCY_BUCKETS }
  return {
    prom,
    fast,
    pc: new Counter({ ...opts, registers: [prom] }),
    fc: new FastCounter({ ...opts, registers: [fast] }),
    ph: new Histogram({ ...hopts, registers: [prom] }),
    fh: new FastHistogram({ ...hopts, registers: [fast] }),
  }
}

const OBSERVATIONS = [0.0004, 0.001, 0.0025, 0.003, 0.1, 0.07, 9.99, 10, 11, 42, 0.3333333]

describe('fast series', () => {
  it('produce prom-client\'s /metrics text and JSON for the same updates', async () => {
    for (const openMetrics of [false, true]) {
      const { prom, fast, pc, fc, ph, fh } = pair(openMetrics)
      // Bound children, created in one order and first updated in another.
      const pb = pc.labels('r-b', 'p', '200')
      const fb = fc.labels('r-b', 'p', '200')
      const pa = pc.labels('r-"a"\\', 'p\n2', '503')
      const fa = fc.labels('r-"a"\\', 'p\n2', '503')
      pa.inc()
      fa.inc()
      pb.inc(2.5)
      fb.inc(2.5)
      pa.inc()
      fa.inc()
      // The object forms update the same series as the bound children.
      pc.inc({ route: 'r-b', pool: 'p', status: '200' })
      fc.inc({ route: 'r-b', pool: 'p', status: '200' })
      pc.inc({ route: 'r-c', pool: 'q', status: '404' }, 3)
      fc.inc({ route: 'r-c', pool: 'q', status: '404' }, 3)
      const phx = ph.labels('x')
      const fhx = fh.labels('x')
      const phy = ph.labels('y')
      const fhy = fh.labels('y')
      for (const [i, v] of OBSERVATIONS.entries()) {
        ;(i % 3 === 0 ? phy : phx).observe(v)
        ;(i % 3 === 0 ? fhy : fhx).observe(v)
      }
      ph.observe({ route: 'z' }, 0.02)
      fh.observe({ route: 'z' }, 0.02)
      expect(await fast.metrics()).toBe(await prom.metrics())
      expect(await fast.getMetricsAsJSON()).toEqual(await prom.getMetricsAsJSON())
    }
  })

  it('reset and remove as prom-client does; bound children keep working afterwards', async () => {
    const { prom, fast, pc, fc, ph, fh } = pair()
    const pb = pc.labels('a', 'p', '200')
    const fb = fc.labels('a', 'p', '200')
    const phx = ph.labels('x')
    const fhx = fh.labels('x')
    for (const c of [pb, fb]) c.inc()
    for (const h of [phx, fhx]) h.observe(0.2)
    pc.labels('b', 'p', '200').inc()
    fc.labels('b', 'p', '200').inc()
    pc.remove('a', 'p', '200')
    fc.remove('a', 'p', '200')
    expect(await fast.metrics()).toBe(await prom.metrics())
    prom.resetMetrics()
    fast.resetMetrics()
    expect(await fast.metrics()).toBe(await prom.metrics())
    for (const c of [pb, fb]) c.inc(4)
    for (const h of [phx, fhx]) h.observe(3)
    expect(await fast.metrics()).toBe(await prom.metrics())
    expect((await fc.get()).values).toEqual([{ value: 4, labels: { route: 'a', pool: 'p', status: '200' } }])
  })

  it('refuse what prom-client refuses', () => {
    const { fc, fh } = pair()
    expect(() => fc.labels('a', 'p')).toThrow(/Invalid number of arguments/)
    expect(() => fc.inc({ nope: 'x' } as never)).toThrow(/not included in initial labelset/)
    expect(() => fc.labels('a', 'p', '200').inc(-1)).toThrow(/decrease a counter/)
    expect(() => fh.labels('x').observe(Number.NaN)).toThrow(TypeError)
    expect(() => new FastHistogram({ name: 'h', help: 'h', labelNames: ['le'], buckets: [1] })).toThrow(/reserved/)
    // One name per registry, as for prom-client's own metrics.
    const r = new Registry()
    new Counter({ name: 'dup_total', help: 'x', registers: [r] })
    expect(() => new FastCounter({ name: 'dup_total', help: 'x', registers: [r] })).toThrow(/already been registered/)
  })

  it('ChildCache makes one child per label values and hands it back afterwards', () => {
    const made: string[][] = []
    const cache = new ChildCache((...values: string[]) => {
      made.push(values)
      return { values }
    })
    const a = cache.get3('r', 'p', 200)
    expect(cache.get3('r', 'p', 200)).toBe(a)
    expect(cache.get3('r', 'p', 503)).not.toBe(a)
    expect(cache.get2('r', 'p')).toBe(cache.get2('r', 'p'))
    expect(cache.get1('r')).toBe(cache.get1('r'))
    expect(made).toEqual([['r', 'p', '200'], ['r', 'p', '503'], ['r', 'p'], ['r']])
  })
})
