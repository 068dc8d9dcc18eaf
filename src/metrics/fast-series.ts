/**
 * Counters and histograms for the series updated on every request, with pre-bound children
 * that cost a few additions per update.
 *
 * prom-client's cached children (`counter.labels(...)`) still build a label object, validate
 * every label name and hash the label set on each inc()/observe(); at five labelled updates per
 * request that was a measurable share of the data plane's CPU (bench/profile.js). Here a child
 * is bound once to its label values and keeps its numbers in plain fields (a Float64Array of
 * bucket counts for histograms). The metric registers itself in the same prom-client Registry
 * (`registry.registerMetric`) and returns from get()/getForPromString() exactly what
 * prom-client's Counter/Histogram return for the same updates, in the same order (series in
 * order of first update), so /metrics, the JSON form and every series name and label are
 * unchanged (test/metrics/fast-series.test.ts compares the text byte for byte).
 *
 * Only the hot series use this (requests, durations, per-backend responses); every other metric
 * stays a prom-client one.
 */
import { format } from 'node:util'
import type { Registry } from 'prom-client'

type LabelValues<T extends string> = Partial<Record<T, string | number>>

/** One value as prom-client's get() returns it. */
export interface FastMetricValue<T extends string> {
  value: number
  labels: LabelValues<T> & { le?: string | number }
  metricName?: string
  exemplar?: null
}

/** What get() returns: prom-client's MetricObjectWithValues shape. */
export interface FastMetricObject<T extends string> {
  name: string
  help: string
  type: 'counter' | 'histogram'
  values: FastMetricValue<T>[]
  aggregator: 'sum'
}

interface FastMetricConfig<T extends string> {
  readonly name: string
  readonly help: string
  readonly labelNames?: readonly T[]
  readonly registers?: readonly Registry[]
}

/** A counter child bound to one label set. */
export interface CounterSeries {
  inc(value?: number): void
}

/** A histogram child bound to one label set. */
export interface HistogramSeries {
  observe(value: number): void
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/

/** The label set of labels(...) arguments, as prom-client's getLabels builds it. */
function labelsOf<T extends string>(labelNames: readonly T[], args: readonly unknown[]): LabelValues<T> {
  if (typeof args[0] === 'object' && args[0] !== null) return args[0] as LabelValues<T>
  if (labelNames.length !== args.length) {
    throw new Error(`Invalid number of arguments (${args.length}): "${args.join(', ')}" for label names (${labelNames.length}): "${labelNames.join(', ')}".`)
  }
  const out: Record<string, unknown> = {}
  for (let i = 0; i < labelNames.length; i++) out[labelNames[i]!] = args[i]
  return out as LabelValues<T>
}

/**
 * The base of both kinds: the registry entry, series by label set (prom-client's hash, so that
 * `{a: 'x'}` and `{a: 'x', b: undefined}` are one series, as there), and the live list in order
 * of first update, which is the export order.
 */
abstract class FastMetric<T extends string, S extends { live: boolean; readonly labels: LabelValues<T> }> {
  name: string
  readonly help: string
  readonly labelNames: readonly T[]
  readonly aggregator = 'sum' as const
  abstract readonly type: 'counter' | 'histogram'
  private readonly sortedLabelNames: readonly T[]
  private readonly byHash = new Map<string, S>()
  protected live: S[] = []

  constructor(config: FastMetricConfig<T>) {
    if (!config.help) throw new Error('Missing mandatory help parameter')
    if (!config.name) throw new Error('Missing mandatory name parameter')
    if (!METRIC_NAME.test(config.name)) throw new Error('Invalid metric name')
    const labelNames = config.labelNames ?? []
    if (!labelNames.every((n) => LABEL_NAME.test(n))) throw new Error('Invalid label name')
    this.name = config.name
    this.help = config.help
    this.labelNames = labelNames
    this.sortedLabelNames = [...labelNames].sort()
  }

  protected register(registers: readonly Registry[] | undefined): void {
    // Structurally what the Registry needs of a metric (name, type, get, getForPromString, reset).
    for (const r of registers ?? []) r.registerMetric(this as unknown as Parameters<Registry['registerMetric']>[0])
  }

  protected abstract create(labels: LabelValues<T>): S
  protected abstract clear(series: S): void

  /** The series of a label set, created (not yet live) on first request. */
  protected seriesFor(labels: LabelValues<T>): S {
    for (const name in labels) {
      if (!this.labelNames.includes(name as T)) throw new Error(`Added label "${name}" is not included in initial labelset: ${format(this.labelNames)}`)
    }
    let hash = ''
    for (const k of this.sortedLabelNames) {
      const v = labels[k]
      if (v !== undefined) hash += `${k}:${v},`
    }
    let s = this.byHash.get(hash)
    if (s === undefined) this.byHash.set(hash, (s = this.create(labels)))
    return s
  }

  /** Called by a series on its first update since creation or reset. */
  protected attach(series: S): void {
    series.live = true
    this.live.push(series)
  }

  /** Every series back to nothing (bound children stay usable and reappear on their next update). */
  reset(): void {
    for (const s of this.live) {
      s.live = false
      this.clear(s)
    }
    this.live = []
  }

  /** Drop one label set's series, as prom-client's remove(). */
  remove(...args: (string | number | LabelValues<T>)[]): void {
    const s = this.seriesFor(labelsOf(this.labelNames, args))
    if (!s.live) return
    s.live = false
    this.clear(s)
    this.live = this.live.filter((x) => x !== s)
  }
}

interface CounterState<T extends string> {
  live: boolean
  readonly labels: LabelValues<T>
  value: number
}

export class FastCounter<T extends string = string> extends FastMetric<T, CounterState<T>> {
  readonly type = 'counter' as const

  constructor(config: FastMetricConfig<T>) {
    super(config)
    this.register(config.registers)
  }

  protected create(labels: LabelValues<T>): CounterState<T> {
    return { live: false, labels, value: 0 }
  }

  protected clear(s: CounterState<T>): void {
    s.value = 0
  }

  /** A child bound to one label set: inc() is a check and an addition. */
  labels(...args: (string | number | LabelValues<T>)[]): CounterSeries {
    const s = this.seriesFor(labelsOf(this.labelNames, args))
    return {
      inc: (value?: number): void => {
        if (value === undefined || value === null) value = 1
        else if (value && !Number.isFinite(value)) throw new TypeError(`Value is not a valid number: ${format(value)}`)
        else if (value < 0) throw new Error('It is not possible to decrease a counter')
        s.value += value
        if (!s.live) this.attach(s)
      },
    }
  }

  /** prom-client's form: inc(), inc(value), inc(labels), inc(labels, value). */
  inc(labels?: LabelValues<T> | number, value?: number): void {
    if (typeof labels === 'object' && labels !== null) this.labels(labels).inc(value)
    else this.labels({} as LabelValues<T>).inc(labels)
  }

  async get(): Promise<FastMetricObject<T>> {
    return { help: this.help, name: this.name, type: this.type, values: this.live.map((s) => ({ value: s.value, labels: s.labels })), aggregator: this.aggregator }
  }
}

interface HistogramState<T extends string> {
  live: boolean
  readonly labels: LabelValues<T>
  /** Observations per bucket (not cumulative); those above the last bound count in `count` only. */
  readonly buckets: Float64Array
  sum: number
  count: number
}

export class FastHistogram<T extends string = string> extends FastMetric<T, HistogramState<T>> {
  readonly type = 'histogram' as const
  readonly upperBounds: readonly number[]

  constructor(config: FastMetricConfig<T> & { readonly buckets: readonly number[] }) {
    super(config)
    if (this.labelNames.includes('le' as T)) throw new Error('le is a reserved label keyword')
    this.upperBounds = [...config.buckets]
    this.register(config.registers)
  }

  protected create(labels: LabelValues<T>): HistogramState<T> {
    return { live: false, labels, buckets: new Float64Array(this.upperBounds.length), sum: 0, count: 0 }
  }

  protected clear(s: HistogramState<T>): void {
    s.buckets.fill(0)
    s.sum = 0
    s.count = 0
  }

  /** A child bound to one label set: observe() is a bucket search and three additions. */
  labels(...args: (string | number | LabelValues<T>)[]): HistogramSeries {
    const s = this.seriesFor(labelsOf(this.labelNames, args))
    const bounds = this.upperBounds
    const n = bounds.length
    return {
      observe: (value: number): void => {
        if (!Number.isFinite(value)) throw new TypeError(`Value is not a valid number: ${format(value)}`)
        let i = 0
        while (i < n && value > bounds[i]!) i++
        if (i < n) s.buckets[i]!++
        s.sum += value
        s.count += 1
        if (!s.live) this.attach(s)
      },
    }
  }

  /** prom-client's form: observe(value) or observe(labels, value). */
  observe(labels: LabelValues<T> | number, value?: number): void {
    if (typeof labels === 'object' && labels !== null) this.labels(labels).observe(value!)
    else this.labels({} as LabelValues<T>).observe(labels)
  }

  /** The text exposition's form (labels of the series apart, as `sharedLabels`). */
  async getForPromString(): Promise<FastMetricObject<T>> {
    const values: (FastMetricValue<T> & { sharedLabels: LabelValues<T> })[] = []
    const bucketName = `${this.name}_bucket`
    for (const s of this.live) {
      let acc = 0
      for (let i = 0; i < this.upperBounds.length; i++) {
        acc += s.buckets[i]!
        values.push({ labels: { le: this.upperBounds[i]! } as FastMetricValue<T>['labels'], sharedLabels: s.labels, value: acc, metricName: bucketName, exemplar: null })
      }
      values.push(
        { labels: { le: '+Inf' } as FastMetricValue<T>['labels'], sharedLabels: s.labels, value: s.count, metricName: bucketName, exemplar: null },
        { labels: {}, sharedLabels: s.labels, value: s.sum, metricName: `${this.name}_sum`, exemplar: undefined },
        { labels: {}, sharedLabels: s.labels, value: s.count, metricName: `${this.name}_count`, exemplar: undefined },
      )
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator }
  }

  /** The JSON form: each value's labels are the series' labels plus `le` where it has one. */
  async get(): Promise<FastMetricObject<T>> {
    const data = await this.getForPromString()
    data.values = data.values.map((v) => {
      const { sharedLabels, labels, ...rest } = v as FastMetricValue<T> & { sharedLabels: LabelValues<T> }
      return { ...rest, labels: { ...labels, ...sharedLabels } }
    })
    return data
  }
}

/**
 * Bound children by label values, found through nested maps: no key string is built per update
 * (a concatenated key is a new string to flatten and hash on every request). The label values
 * are bounded by configuration (route, pool and backend names, status codes).
 */
export class ChildCache<C> {
  // One tree per depth: a cache used with two and three values keeps them apart.
  private readonly two = new Map<string | number, Map<string | number, unknown>>()
  private readonly three = new Map<string | number, Map<string | number, unknown>>()
  private readonly four = new Map<string | number, Map<string | number, unknown>>()
  private readonly flat = new Map<string | number, C>()

  constructor(private readonly make: (...values: string[]) => C) {}

  /** The child of one label value. */
  get1(a: string): C {
    let child = this.flat.get(a)
    if (child === undefined) this.flat.set(a, (child = this.make(a)))
    return child
  }

  /** The child of two label values. */
  get2(a: string, b: string | number): C {
    const m = this.level(this.two, a) as Map<string | number, C>
    let child = m.get(b)
    if (child === undefined) m.set(b, (child = this.make(a, String(b))))
    return child
  }

  /** The child of three label values (a number, such as a status code, is its decimal text). */
  get3(a: string, b: string, c: string | number): C {
    const m = this.level(this.level(this.three, a) as Map<string | number, Map<string | number, unknown>>, b) as Map<string | number, C>
    let child = m.get(c)
    if (child === undefined) m.set(c, (child = this.make(a, b, String(c))))
    return child
  }

  /** The child of four label values. */
  get4(a: string, b: string, c: string | number, d: string): C {
    const l2 = this.level(this.level(this.four, a) as Map<string | number, Map<string | number, unknown>>, b) as Map<string | number, Map<string | number, unknown>>
    const m = this.level(l2, c) as Map<string | number, C>
    let child = m.get(d)
    if (child === undefined) m.set(d, (child = this.make(a, b, String(c), d)))
    return child
  }

  private level(map: Map<string | number, Map<string | number, unknown>>, key: string | number): Map<string | number, unknown> {
    let next = map.get(key)
    if (next === undefined) map.set(key, (next = new Map()))
    return next
  }
}
