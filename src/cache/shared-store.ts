/**
 * One memory cache for a process of worker threads (`server.workers`, src/workers/): the main
 * thread owns the one MemoryStore (one `cache.maxSize`, one LRU, one set of url/path/tag
 * indexes) and serves it to every worker over a MessagePort of its own; each worker's cache
 * middleware sees a RemoteStore, the same async CacheStore contract. So a response stored
 * through one worker is a hit on every worker, an admin purge (which runs on the main thread)
 * removes it for all of them, the cache gauges are the process's, and a worker that dies and
 * is replaced finds the cache as it was.
 *
 * Bodies cross threads without a copy per hit: a worker copies a body it stores into a
 * SharedArrayBuffer of its own (the copy MemoryStore would make anyway, see ownedBody there),
 * and a structured clone of a view on a SharedArrayBuffer shares the memory instead of copying
 * it. A hit clones the entry's headers and keys only; bodies are never written after storing.
 *
 * Why messages and not a shared-memory arena: docs/workers.md (the cost measured per hit).
 */
import type { MessagePort } from 'node:worker_threads'
import { Coalescer, type Flight } from './coalescer.js'
import type { CacheEntry, CacheStats, CacheStore } from './store.js'

/** A call from a worker's RemoteStore to the main thread's store. Plain data (structured clone). */
export type StoreCall =
  | { readonly id: number; readonly op: 'lookup'; readonly urlKey: string; readonly vary: readonly string[]; readonly key: string }
  | { readonly id: number; readonly op: 'get' | 'delete'; readonly key: string }
  | { readonly id: number; readonly op: 'set'; readonly entry: CacheEntry; readonly retainMs: number }
  | { readonly id: number; readonly op: 'deleteUrl'; readonly urlKey: string }
  | { readonly id: number; readonly op: 'keysByPrefix' | 'deleteByPrefix'; readonly prefix: string }
  | { readonly id: number; readonly op: 'keysByTag' | 'deleteByTag'; readonly tag: string }
  | { readonly id: number; readonly op: 'clear' | 'stats' }
  /** Lead or follow the process's fill of `key` (a miss going upstream); see ProcessFill. */
  | { readonly id: number; readonly op: 'joinFill'; readonly key: string; readonly timeoutMs: number }
  /** The leader's fill ended: stored under `stored` (a full key), or not stored. */
  | { readonly id: number; readonly op: 'settleFill'; readonly key: string; readonly stored: string | undefined }

/**
 * The answer to one call. A lookup whose guessed Vary names were not the resource's answers
 * `vary` (the names to use) instead of an entry: the worker computes the full key and asks again.
 */
export type StoreReply =
  | { readonly id: number; readonly ok: true; readonly value: unknown; readonly vary?: readonly string[] }
  | { readonly id: number; readonly ok: false; readonly message: string }

/** The part of a MessagePort used here (tests pass a MessageChannel's ends). */
export type StorePort = Pick<MessagePort, 'postMessage' | 'on' | 'off' | 'close'> & { unref?(): void }

/** A key no entry has: what the host's keyFor answers when the guessed Vary names were wrong. */
const NO_KEY = '\u0000'

function sameNames(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** The entry as it arrived: a structured clone turns the body Buffer into a plain Uint8Array. */
function revive(entry: CacheEntry | undefined): CacheEntry | undefined {
  if (entry === undefined) return undefined
  const b = entry.body as Uint8Array
  if (Buffer.isBuffer(b)) return entry
  return { ...entry, body: Buffer.from(b.buffer, b.byteOffset, b.byteLength) }
}

/** A body whose memory is a SharedArrayBuffer of exactly its size: cloned as a share, kept by the store as is. */
export function sharedBody(body: Buffer): Buffer {
  if (body.buffer instanceof SharedArrayBuffer && body.byteOffset === 0 && body.buffer.byteLength === body.length) return body
  const own = Buffer.from(new SharedArrayBuffer(body.length))
  body.copy(own)
  return own
}

/**
 * Fills of the process: concurrent misses for one key on different workers make one upstream
 * request. Each worker coalesces its own misses first (cache-forward.ts); its leader then joins
 * here. The first worker leads; the others wait for it (bounded by the flight's timeout) and get
 * the stored entry, or nothing (then they fetch for themselves). The value shared is the full
 * key the leader stored under, read from the store when the flight ends.
 */
export class ProcessFills {
  readonly coalescer: Coalescer<string>
  /** Flights led by each port's worker: ended (nothing shared) when that worker goes. */
  readonly #led = new Map<StorePort, Map<string, Flight<string>>>()

  constructor(coalescer: Coalescer<string>) {
    this.coalescer = coalescer
  }

  /** 'lead', the follower's wait for the stored key, or 'none' at the coalescer's bound. */
  join(port: StorePort, key: string, timeoutMs: number): 'lead' | 'none' | Promise<string | undefined> {
    const c = this.coalescer.join(key, timeoutMs)
    if (c === undefined) return 'none'
    if (!c.leader) return c.shared
    let led = this.#led.get(port)
    if (led === undefined) this.#led.set(port, (led = new Map()))
    // A flight this worker still leads for the key (it timed out here, not there) ends first.
    led.get(key)?.settle(undefined)
    led.set(key, c.flight)
    return 'lead'
  }

  settle(port: StorePort, key: string, stored: string | undefined): void {
    const led = this.#led.get(port)
    const flight = led?.get(key)
    if (flight === undefined) return
    led!.delete(key)
    flight.settle(stored)
  }

  /** The worker on `port` is gone: its flights end, its followers fetch for themselves. */
  drop(port: StorePort): void {
    const led = this.#led.get(port)
    this.#led.delete(port)
    for (const f of led?.values() ?? []) f.settle(undefined)
  }
}

async function answer(store: CacheStore, c: StoreCall, fills: ProcessFills | undefined, port: StorePort): Promise<{ value: unknown; vary?: readonly string[] }> {
  switch (c.op) {
    case 'joinFill': {
      const j = fills === undefined ? 'none' : fills.join(port, c.key, c.timeoutMs)
      if (typeof j === 'string') return { value: j }
      const stored = await j
      return { value: { entry: stored === undefined ? undefined : await store.get(stored) } }
    }
    case 'settleFill':
      fills?.settle(port, c.key, c.stored)
      return { value: undefined }
    case 'lookup': {
      let actual: readonly string[] | undefined
      const value = await store.lookup(c.urlKey, (names) => {
        if (sameNames(names, c.vary)) return c.key
        actual = names
        return NO_KEY
      })
      return actual === undefined ? { value } : { value: undefined, vary: actual }
    }
    case 'get':
      return { value: await store.get(c.key) }
    case 'set':
      return { value: await store.set(revive(c.entry)!, c.retainMs) }
    case 'delete':
      return { value: await store.delete(c.key) }
    case 'deleteUrl':
      return { value: await store.deleteUrl(c.urlKey) }
    case 'keysByPrefix':
      return { value: await store.keysByPrefix(c.prefix) }
    case 'deleteByPrefix':
      return { value: await store.deleteByPrefix(c.prefix) }
    case 'keysByTag':
      return { value: await store.keysByTag(c.tag) }
    case 'deleteByTag':
      return { value: await store.deleteByTag(c.tag) }
    case 'clear':
      return { value: await store.clear() }
    case 'stats':
      return { value: await store.stats() }
  }
}

/**
 * Serve `store` to one worker's RemoteStore over `port` (main thread; one port per worker).
 * Returns a function that stops serving and closes the port; the store itself lives on.
 */
export function serveStore(store: CacheStore, port: StorePort, fills?: ProcessFills): () => void {
  const onMessage = (c: StoreCall): void => {
    answer(store, c, fills, port).then(
      (r) => port.postMessage({ id: c.id, ok: true, ...r } satisfies StoreReply),
      (err: unknown) => port.postMessage({ id: c.id, ok: false, message: (err as Error).message } satisfies StoreReply),
    )
  }
  port.on('message', onMessage)
  // The port never holds the process open: the supervisor ends it with the worker.
  port.unref?.()
  return () => {
    port.off('message', onMessage)
    port.close()
    fills?.drop(port)
  }
}

interface Pending {
  readonly resolve: (r: StoreReply & { ok: true }) => void
  readonly reject: (err: Error) => void
  readonly deadline: number
}

export interface RemoteStoreOptions {
  /** A call unanswered this long fails (the cache middleware then treats it as a miss). Default 2 s. */
  readonly timeoutMs?: number
  /** Resources whose Vary names are remembered (to compute the full key in one round trip). Default 10 000. */
  readonly maxVaryMemo?: number
  readonly now?: () => number
}

/**
 * A worker thread's view of the main thread's store. Every method is one message round trip;
 * a lookup of a resource with Vary is one too once its names are known here (two the first
 * time, or after its Vary names changed).
 */
export class RemoteStore implements CacheStore {
  readonly #port: StorePort
  readonly #pending = new Map<number, Pending>()
  /** urlKey → the Vary names last seen for it (only non-empty ones: no entry means none). */
  readonly #vary = new Map<string, readonly string[]>()
  readonly #timeoutMs: number
  readonly #maxVaryMemo: number
  readonly #now: () => number
  readonly #sweep: NodeJS.Timeout
  #nextId = 1
  #closed = false

  constructor(port: StorePort, opts: RemoteStoreOptions = {}) {
    this.#port = port
    this.#timeoutMs = opts.timeoutMs ?? 2000
    this.#maxVaryMemo = opts.maxVaryMemo ?? 10_000
    this.#now = opts.now ?? performance.now.bind(performance)
    port.on('message', (r: StoreReply) => {
      const p = this.#pending.get(r.id)
      if (p === undefined) return
      this.#pending.delete(r.id)
      if (r.ok) p.resolve(r)
      else p.reject(new Error(`cache store: ${r.message}`))
    })
    // The worker lives by its listeners, not by this port.
    port.unref?.()
    // One timer for every call (no timer per request): a call the main thread never answers
    // fails instead of hanging its request.
    this.#sweep = setInterval(() => this.sweep(), Math.max(10, Math.floor(this.#timeoutMs / 4))).unref()
  }

  /** Fail the calls past their deadline (run by the sweep timer; public for tests). */
  sweep(): void {
    const t = this.#now()
    for (const [id, p] of this.#pending) {
      if (p.deadline > t) continue
      this.#pending.delete(id)
      p.reject(new Error('cache store: no answer from the main thread'))
    }
  }

  /** Calls waiting for their answer (tests). */
  get pending(): number {
    return this.#pending.size
  }

  #call(c: { op: StoreCall['op'] } & Record<string, unknown>, timeoutMs = this.#timeoutMs): Promise<StoreReply & { ok: true }> {
    if (this.#closed) return Promise.reject(new Error('cache store: closed'))
    const id = this.#nextId++
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, deadline: this.#now() + timeoutMs })
      this.#port.postMessage({ ...c, id })
    })
  }

  async #value<T>(c: { op: StoreCall['op'] } & Record<string, unknown>): Promise<T> {
    return (await this.#call(c)).value as T
  }

  async get(key: string): Promise<CacheEntry | undefined> {
    return revive(await this.#value<CacheEntry | undefined>({ op: 'get', key }))
  }

  async lookup(urlKey: string, keyFor: (vary: readonly string[]) => string): Promise<CacheEntry | undefined> {
    const guess = this.#vary.get(urlKey) ?? []
    const r = await this.#call({ op: 'lookup', urlKey, vary: guess, key: keyFor(guess) })
    if (r.vary === undefined) return revive(r.value as CacheEntry | undefined)
    this.#remember(urlKey, r.vary)
    const again = await this.#call({ op: 'lookup', urlKey, vary: r.vary, key: keyFor(r.vary) })
    if (again.vary !== undefined) this.#remember(urlKey, again.vary)
    return revive(again.value as CacheEntry | undefined)
  }

  async set(entry: CacheEntry, retainMs: number): Promise<boolean> {
    this.#remember(entry.urlKey, entry.vary)
    return this.#value<boolean>({ op: 'set', entry: { ...entry, body: sharedBody(entry.body) }, retainMs })
  }

  delete(key: string): Promise<boolean> {
    return this.#value({ op: 'delete', key })
  }

  deleteUrl(urlKey: string): Promise<number> {
    return this.#value({ op: 'deleteUrl', urlKey })
  }

  keysByPrefix(prefix: string): Promise<string[]> {
    return this.#value({ op: 'keysByPrefix', prefix })
  }

  deleteByPrefix(prefix: string): Promise<number> {
    return this.#value({ op: 'deleteByPrefix', prefix })
  }

  keysByTag(tag: string): Promise<string[]> {
    return this.#value({ op: 'keysByTag', tag })
  }

  deleteByTag(tag: string): Promise<number> {
    return this.#value({ op: 'deleteByTag', tag })
  }

  clear(): Promise<number> {
    return this.#value({ op: 'clear' })
  }

  stats(): Promise<CacheStats> {
    return this.#value({ op: 'stats' })
  }

  /**
   * Join the process's fill of `key` (ProcessFills): resolves as leader (settle the flight with
   * the stored entry, or undefined, exactly once), as follower with the entry the leader stored
   * (undefined: fetch for yourself), or undefined when the process's flights are at their bound
   * or the main thread does not answer.
   */
  async joinFill(key: string, timeoutMs: number): Promise<{ readonly leader: true; readonly flight: Flight<CacheEntry> } | { readonly leader: false; readonly entry: CacheEntry | undefined } | undefined> {
    let r
    try {
      // A follower's answer comes when the leader is done: wait as long as the flight may last.
      r = (await this.#call({ op: 'joinFill', key, timeoutMs }, timeoutMs + this.#timeoutMs)).value as 'lead' | 'none' | { entry: CacheEntry | undefined }
    } catch {
      return undefined
    }
    if (r === 'none') return undefined
    if (r === 'lead') {
      let done = false
      const settle = (e: CacheEntry | undefined): void => {
        if (done) return
        done = true
        this.#call({ op: 'settleFill', key, stored: e?.key }).catch(() => undefined)
      }
      return { leader: true, flight: { settle } }
    }
    return { leader: false, entry: revive(r.entry) }
  }

  /** Stop asking: pending calls fail, the port closes. The main thread's store lives on. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    clearInterval(this.#sweep)
    for (const p of this.#pending.values()) p.reject(new Error('cache store: closed'))
    this.#pending.clear()
    this.#port.close()
  }

  #remember(urlKey: string, vary: readonly string[]): void {
    if (vary.length === 0) {
      this.#vary.delete(urlKey)
      return
    }
    // Bounded: a flood of distinct URLs with Vary costs a second round trip, never memory.
    if (this.#vary.size >= this.#maxVaryMemo && !this.#vary.has(urlKey)) this.#vary.clear()
    this.#vary.set(urlKey, vary)
  }
}
