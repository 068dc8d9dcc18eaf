/**
 * The main thread's memory store served to worker threads (src/cache/shared-store.ts): the
 * CacheStore contract holds through the port, bodies cross as shared memory, Vary lookups need
 * a second round trip only when the names are not yet known, an unanswered call fails instead
 * of hanging, and closing a worker's view leaves the store to the others.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { MessageChannel, type MessagePort } from 'node:worker_threads'
import { MemoryStore } from '../../src/cache/memory-store.js'
import { Coalescer } from '../../src/cache/coalescer.js'
import { ProcessFills, RemoteStore, serveStore, sharedBody, type StoreCall } from '../../src/cache/shared-store.js'
import { entry, storeContract } from './store-contract.js'

const ports: MessagePort[] = []
afterEach(() => {
  for (const p of ports.splice(0)) p.close()
})

/** A RemoteStore talking to `host` over a real MessageChannel; `calls` records what crossed. */
function remote(host: MemoryStore, calls: StoreCall[] = [], fills?: ProcessFills): RemoteStore & { stop: () => void } {
  const { port1, port2 } = new MessageChannel()
  ports.push(port1, port2)
  port1.on('message', (c: StoreCall) => calls.push(c))
  const stop = serveStore(host, port1, fills)
  return Object.assign(new RemoteStore(port2), { stop })
}

storeContract('RemoteStore over a MessagePort', async () => remote(new MemoryStore({ maxSize: 64 * 1024, maxEntrySize: 4096 })))

describe('RemoteStore', () => {
  it('shares one store between two workers: stored through one, a hit and purged through the other', async () => {
    const host = new MemoryStore({ maxSize: 64 * 1024, maxEntrySize: 4096 })
    const a = remote(host)
    const b = remote(host)
    expect(await a.set(entry('/p', { tags: ['t'] }), 60_000)).toBe(true)
    const got = await b.lookup('/p', () => '/p')
    expect(got?.body.toString()).toBe('body of /p')
    expect(Buffer.isBuffer(got?.body)).toBe(true)
    expect(await b.deleteByTag('t')).toBe(1)
    expect(await a.get('/p')).toBeUndefined()
    // A worker's view closing (the worker exits) leaves the store to everyone else.
    await a.set(entry('/q'), 60_000)
    await a.close()
    expect((await b.get('/q'))?.body.toString()).toBe('body of /q')
    await expect(a.get('/q')).rejects.toThrow(/closed/)
  })

  it('sends bodies as shared memory: what the store holds is the memory the worker filled', async () => {
    const host = new MemoryStore({ maxSize: 64 * 1024, maxEntrySize: 4096 })
    const a = remote(host)
    await a.set(entry('/s', { body: Buffer.from('shared bytes') }), 60_000)
    const held = await host.get('/s')
    expect(held?.body.buffer).toBeInstanceOf(SharedArrayBuffer)
    const hit = await a.get('/s')
    expect(hit?.body.buffer).toBeInstanceOf(SharedArrayBuffer)
    // Same memory, not a copy: a byte written in one view shows in the other.
    expect(hit!.body.buffer).not.toBe(held!.body.buffer)
    new Uint8Array(held!.body.buffer)[0] = 'S'.charCodeAt(0)
    expect(hit!.body.toString()).toBe('Shared bytes')
  })

  it('copies a pooled body into a SharedArrayBuffer of its exact size, once', () => {
    const pooled = Buffer.from('tiny')
    const s = sharedBody(pooled)
    expect(s.buffer).toBeInstanceOf(SharedArrayBuffer)
    expect(s.buffer.byteLength).toBe(4)
    expect(s.toString()).toBe('tiny')
    expect(sharedBody(s)).toBe(s)
  })

  it('learns a resource’s Vary names: two round trips the first time, one after', async () => {
    const host = new MemoryStore({ maxSize: 64 * 1024, maxEntrySize: 4096 })
    const written: StoreCall[] = []
    const writer = remote(host, written)
    await writer.set(entry('/v|gzip', { urlKey: '/v', vary: ['accept-encoding'] }), 60_000)
    const calls: StoreCall[] = []
    const reader = remote(host, calls)
    const keyFor = (vary: readonly string[]) => (vary.length === 0 ? '/v' : '/v|gzip')
    expect((await reader.lookup('/v', keyFor))?.key).toBe('/v|gzip')
    expect(calls.map((c) => c.op)).toEqual(['lookup', 'lookup'])
    expect((await reader.lookup('/v', keyFor))?.key).toBe('/v|gzip')
    expect(calls.length).toBe(3)
    // The writer stored the variant itself: it knew the names from the start.
    expect((await writer.lookup('/v', keyFor))?.key).toBe('/v|gzip')
    expect(written.map((c) => c.op)).toEqual(['set', 'lookup'])
    // Nothing stored: one round trip.
    const none: StoreCall[] = []
    expect(await remote(host, none).lookup('/nothing', keyFor)).toBeUndefined()
    expect(none.length).toBe(1)
  })

  it('fails a call the main thread never answers, instead of hanging the request', async () => {
    const { port1, port2 } = new MessageChannel()
    ports.push(port1, port2)
    let t = 0
    const r = new RemoteStore(port2, { timeoutMs: 100, now: () => t })
    const pending = r.get('/x')
    expect(r.pending).toBe(1)
    t = 99
    r.sweep()
    expect(r.pending).toBe(1)
    t = 100
    r.sweep()
    await expect(pending).rejects.toThrow(/no answer/)
    expect(r.pending).toBe(0)
    await r.close()
  })

  it('passes the store’s errors on as rejections', async () => {
    const host = new MemoryStore({ maxSize: 64 * 1024, maxEntrySize: 4096 })
    host.stats = () => Promise.reject(new Error('boom'))
    await expect(remote(host).stats()).rejects.toThrow(/cache store: boom/)
  })

  describe('process-wide fills', () => {
    const fills = (maxFlights = 8) => new ProcessFills(new Coalescer<string>(10_000, undefined, { maxFlights, maxWaiters: 4 * maxFlights }))

    it('lets one worker fetch a key while the others wait for what it stored', async () => {
      const host = new MemoryStore({ maxSize: 64 * 1024, maxEntrySize: 4096 })
      const f = fills()
      const a = remote(host, [], f)
      const b = remote(host, [], f)
      const lead = await a.joinFill('/k', 1000)
      expect(lead?.leader).toBe(true)
      const follow = b.joinFill('/k', 1000)
      // The follower's answer waits for the leader.
      await new Promise((r) => setTimeout(r, 20))
      expect(b.pending).toBe(1)
      const e = entry('/k')
      await a.set(e, 60_000)
      if (lead?.leader) lead.flight.settle(e)
      const got = await follow
      expect(got?.leader).toBe(false)
      expect(got?.leader === false && got.entry?.body.toString()).toBe('body of /k')
      expect(f.coalescer.size).toBe(0)
      // The flight is over: the next miss leads again.
      expect((await b.joinFill('/k', 1000))?.leader).toBe(true)
    })

    it('shares nothing when the leader stored nothing, or its worker went', async () => {
      const host = new MemoryStore({ maxSize: 64 * 1024, maxEntrySize: 4096 })
      const f = fills()
      const a = remote(host, [], f)
      const b = remote(host, [], f)
      const lead = await a.joinFill('/n', 1000)
      const follow = b.joinFill('/n', 1000)
      if (lead?.leader) lead.flight.settle(undefined)
      expect(await follow).toEqual({ leader: false, entry: undefined })
      // The leader's worker exits mid-fill: its followers are released at once.
      expect((await a.joinFill('/gone', 1000))?.leader).toBe(true)
      const waiting = b.joinFill('/gone', 1000)
      await new Promise((r) => setTimeout(r, 20))
      a.stop()
      expect(await waiting).toEqual({ leader: false, entry: undefined })
      expect(f.coalescer.size).toBe(0)
    })

    it('answers undefined at the flight bound or without process fills: fetch uncoalesced', async () => {
      const host = new MemoryStore({ maxSize: 64 * 1024, maxEntrySize: 4096 })
      const a = remote(host, [], fills(1))
      expect((await a.joinFill('/1', 1000))?.leader).toBe(true)
      expect(await a.joinFill('/2', 1000)).toBeUndefined()
      expect(await remote(host).joinFill('/1', 1000)).toBeUndefined()
    })
  })
})
