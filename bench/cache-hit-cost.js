// npm run bench:cache-hit: what a cache hit costs at the store with `server.workers` (the main
// thread's MemoryStore reached from a worker thread over a MessagePort, src/cache/shared-store.ts)
// against the single-thread gateway's in-process MemoryStore. Per body size: the latency of one
// lookup at a time, and the throughput with 64 lookups in flight (as 64 connections would), with
// bodies shared (SharedArrayBuffer, what the workers store) and, for comparison, copied (a body in
// an ordinary ArrayBuffer is cloned on every hit). docs/workers.md quotes a run.
// Env: CACHE_HIT_ITERATIONS (default 20000).
import { isMainThread, parentPort, workerData, Worker, MessageChannel } from 'node:worker_threads'
import { fileURLToPath } from 'node:url'
import { cpus } from 'node:os'

const { MemoryStore } = await import('../dist/src/cache/memory-store.js')
const { RemoteStore, serveStore, sharedBody } = await import('../dist/src/cache/shared-store.js')

const N = Number(process.env.CACHE_HIT_ITERATIONS ?? 20_000)
const SIZES = [1024, 64 * 1024]

function entry(key, body) {
  return {
    key,
    urlKey: key,
    path: key,
    tags: [],
    vary: [],
    status: 200,
    headers: { 'content-type': 'application/json', 'cache-control': 'public, max-age=60', etag: '"abc"', date: new Date().toUTCString(), 'content-length': String(body.length) },
    body,
    freshness: { requestTime: 1, responseTime: 2, initialAge: 0, lifetime: 60_000, heuristic: false, staleWhileRevalidate: 0, staleIfError: 0, mustRevalidate: false },
  }
}

/** µs per lookup one at a time, and lookups per second with 64 in flight. */
async function measure(store, key) {
  const keyFor = () => key
  for (let i = 0; i < 1000; i++) await store.lookup(key, keyFor)
  let t = performance.now()
  for (let i = 0; i < N; i++) if ((await store.lookup(key, keyFor)) === undefined) throw new Error('miss')
  const latencyUs = ((performance.now() - t) * 1000) / N
  t = performance.now()
  let left = N
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (left-- > 0) await store.lookup(key, keyFor)
    }),
  )
  const perSecond = N / ((performance.now() - t) / 1000)
  return { latencyUs, perSecond }
}

if (isMainThread) {
  const rows = []
  for (const size of SIZES) {
    const store = new MemoryStore({ maxSize: 64 * 1024 * 1024, maxEntrySize: 1024 * 1024 })
    await store.set(entry('/copied', Buffer.alloc(size, 1)), 600_000)
    await store.set(entry('/shared', sharedBody(Buffer.alloc(size, 1))), 600_000)
    rows.push({ size, where: 'single thread: in-process MemoryStore', ...(await measure(store, '/shared')) })
    const { port1, port2 } = new MessageChannel()
    serveStore(store, port1)
    const w = new Worker(fileURLToPath(import.meta.url), { workerData: { port: port2 }, transferList: [port2] })
    const got = await new Promise((resolve, reject) => {
      w.once('message', resolve)
      w.once('error', reject)
    })
    rows.push({ size, where: 'workers: worker → main thread, body shared', ...got.shared })
    rows.push({ size, where: 'workers: worker → main thread, body copied', ...got.copied })
    await w.terminate()
    port1.close()
  }
  console.log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}; node ${process.version}; ${N} lookups per figure`)
  console.log('')
  console.log('| body | store | µs per hit (one at a time) | hits/s (64 in flight) |')
  console.log('| ---: | --- | ---: | ---: |')
  for (const r of rows) console.log(`| ${r.size / 1024} KiB | ${r.where} | ${r.latencyUs.toFixed(1)} | ${Math.round(r.perSecond).toLocaleString('en')} |`)
} else {
  const store = new RemoteStore(workerData.port)
  // RemoteStore unrefs its port (a gateway worker lives by its listeners); this one has none.
  workerData.port.ref()
  const shared = await measure(store, '/shared')
  const copied = await measure(store, '/copied')
  parentPort.postMessage({ shared, copied })
}
