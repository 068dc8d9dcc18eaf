/**
 * gRPC end to end through the gateway, with a real @grpc/grpc-js client and server: h2c with
 * prior knowledge on the plain listener (`server.h2c: true`), HTTP/2 to the backend (`protocol:
 * h2c`), every call shape, trailers, deadlines, the gateway's own errors as gRPC statuses, and
 * retries on the gRPC statuses a pool lists.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createSigner } from 'fast-jwt'
import { echoClient, grpc, startGrpcBackend, unary, type GrpcBackend, type Msg } from '../helpers/grpc.js'
import { startGateway, type StartedGateway } from '../helpers/gateway.js'
import { freePort, waitFor } from '../helpers/upstream.js'
import { readFile } from 'node:fs/promises'
import { createPki } from '../tls/helpers/pki.js'

const SECRET = 'a-test-secret-that-is-long-enough-32b'

let a: GrpcBackend
let gw: StartedGateway
// eslint-disable-next-line @typescript-eslint/no-explicit-any
let client: any

function target(g: StartedGateway): string {
  return new URL(g.url).host
}

beforeAll(async () => {
  a = await startGrpcBackend('a')
  gw = await startGateway({
    server: { h2c: true },
    jwt: { secret: SECRET, algorithms: ['HS256'] },
    pools: {
      echo: { backends: [a.url], protocol: 'h2c', timeouts: { response: '800ms' } },
    },
    routes: [
      { name: 'secured', match: { path: '/switchyard.test.Echo/ClientStream' }, pool: 'echo', jwt: { required: true } },
      { name: 'echo', match: { path: '/switchyard.test.Echo' }, pool: 'echo' },
    ],
  })
  client = echoClient(target(gw))
})

afterAll(async () => {
  client?.close()
  await gw?.close()
  await a?.close()
})

function collect(call: grpc.ClientReadableStream<Msg>): Promise<{ messages: Msg[]; error?: grpc.ServiceError; status?: grpc.StatusObject }> {
  return new Promise((resolve) => {
    const messages: Msg[] = []
    let error: grpc.ServiceError | undefined
    call.on('data', (m: Msg) => messages.push(m))
    call.on('error', (e: grpc.ServiceError) => (error = e))
    call.on('status', (status: grpc.StatusObject) => setImmediate(() => resolve({ messages, error, status })))
  })
}

describe('gRPC through the gateway (h2c in, h2c out)', () => {
  it('unary: the reply, request metadata to the backend, trailing metadata back', async () => {
    const md = new grpc.Metadata()
    md.set('x-tenant', 'acme')
    const { reply, trailers } = await unary(client, { text: 'hi' }, { metadata: md })
    expect(reply.text).toBe('a:hi')
    expect(trailers.get('x-served-by')).toEqual(['a'])
    const seen = a.calls.at(-1)!
    expect(seen.method).toBe('Unary')
    expect(seen.metadata['x-tenant']).toBe('acme')
    expect(seen.metadata['x-request-id']).toBeTypeOf('string')
  })

  it('server streaming: every message, in order, then the status', async () => {
    const r = await collect(client.ServerStream({ text: 's', count: 5 }))
    expect(r.error).toBeUndefined()
    expect(r.messages.map((m) => m.text)).toEqual(['a:s:0', 'a:s:1', 'a:s:2', 'a:s:3', 'a:s:4'])
    expect(r.status?.code).toBe(grpc.status.OK)
  })

  it('client streaming needs a token on its route: UNAUTHENTICATED without one, the reply with one', async () => {
    const refused = await new Promise<grpc.ServiceError>((resolve) => {
      const call = client.ClientStream((err: grpc.ServiceError) => resolve(err))
      call.write({ text: 'x' })
      call.end()
    })
    expect(refused.code).toBe(grpc.status.UNAUTHENTICATED)
    expect(refused.details).toBe('missing bearer token')

    const token = createSigner({ key: SECRET, algorithm: 'HS256', expiresIn: 300_000 })({ sub: 'u1' })
    const md = new grpc.Metadata()
    md.set('authorization', `Bearer ${token}`)
    const reply = await new Promise<Msg>((resolve, reject) => {
      const call = client.ClientStream(md, (err: grpc.ServiceError | null, m: Msg) => (err ? reject(err) : resolve(m)))
      for (const t of ['x', 'y', 'z']) call.write({ text: t })
      call.end()
    })
    expect(reply).toMatchObject({ text: 'a:x,y,z', count: 3 })
  })

  it('bidi: each answer arrives before the next request is sent (streaming both ways)', async () => {
    const call = client.Bidi()
    const answers: string[] = []
    const next = () => new Promise<Msg>((resolve) => call.once('data', resolve))
    for (const t of ['one', 'two', 'three']) {
      const reply = next()
      call.write({ text: t })
      answers.push((await reply).text!)
    }
    const status = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve))
    call.end()
    expect(answers).toEqual(['a:one', 'a:two', 'a:three'])
    expect((await status).code).toBe(grpc.status.OK)
  })

  it('a deadline: grpc-timeout reaches the backend, and an expired call is DEADLINE_EXCEEDED', async () => {
    await unary(client, { text: 'quick' }, { deadlineMs: 600 })
    const sent = a.calls.at(-1)!.deadlineMs
    expect(sent).toBeGreaterThan(100)
    expect(sent).toBeLessThanOrEqual(600)
    const err = await unary(client, { text: 'slow', delayMs: 1500 }, { deadlineMs: 300 }).catch((e: grpc.ServiceError) => e)
    expect((err as grpc.ServiceError).code).toBe(grpc.status.DEADLINE_EXCEEDED)
  })

  it("the route's response timeout caps a longer client deadline", async () => {
    const err = await unary(client, { text: 'slow', delayMs: 1500 }, { deadlineMs: 60_000 }).catch((e: grpc.ServiceError) => e)
    expect((err as grpc.ServiceError).code).toBe(grpc.status.DEADLINE_EXCEEDED)
    // The backend was told the capped deadline (800ms), not the client's minute.
    expect(a.calls.at(-1)!.deadlineMs).toBeLessThanOrEqual(800)
  })

  it('a client that cancels a call before any answer cancels it on the backend', async () => {
    const before = a.cancelled
    const received = a.calls.length
    const call = client.Unary({ text: 'slow', delayMs: 1500 }, () => {})
    await waitFor(() => a.calls.length > received, 3000, 10, 'call reached the backend')
    call.cancel()
    await waitFor(() => a.cancelled > before, 3000, 10, 'backend saw the cancellation')
  })

  it('counts calls by the gRPC status their client saw', async () => {
    await unary(client, { text: 'counted' })
    const text = await gw.metrics.registry.metrics()
    expect(text).toMatch(/switchyard_grpc_requests_total\{route="echo",code="OK"\} [1-9]/)
    expect(text).toMatch(/switchyard_grpc_requests_total\{route="echo",code="DEADLINE_EXCEEDED"\} [1-9]/)
    expect(text).toMatch(/switchyard_grpc_requests_total\{route="secured",code="UNAUTHENTICATED"\} [1-9]/)
  })

  it('a path no route matches is UNIMPLEMENTED, not an HTTP 404 JSON body', async () => {
    const other = new grpc.Client(target(gw), grpc.credentials.createInsecure())
    const err = await new Promise<grpc.ServiceError>((resolve) => {
      other.makeUnaryRequest('/other.Service/Call', (x: Buffer) => x, (x: Buffer) => x, Buffer.alloc(0), (e) => resolve(e as grpc.ServiceError))
    })
    other.close()
    expect(err.code).toBe(grpc.status.UNIMPLEMENTED)
  })
})

describe('gRPC failures', () => {
  it('no backend answering is UNAVAILABLE', async () => {
    const dead = await freePort()
    const g = await startGateway({
      server: { h2c: true },
      pools: { echo: { backends: [`http://127.0.0.1:${dead}`], protocol: 'h2c', retry: { attempts: 0 } } },
      routes: [{ name: 'echo', match: { path: '/' }, pool: 'echo' }],
    })
    const c = echoClient(target(g))
    try {
      const err = await unary(c, { text: 'x' }).catch((e: grpc.ServiceError) => e)
      expect((err as grpc.ServiceError).code).toBe(grpc.status.UNAVAILABLE)
    } finally {
      c.close()
      await g.close()
    }
  })

  it('a backend killed mid-stream ends the call with UNAVAILABLE after the messages already sent', async () => {
    const b = await startGrpcBackend('b')
    const g = await startGateway({
      server: { h2c: true },
      pools: { echo: { backends: [b.url], protocol: 'h2c' } },
      routes: [{ name: 'echo', match: { path: '/' }, pool: 'echo' }],
    })
    const c = echoClient(target(g))
    try {
      const call = c.ServerStream({ text: 'k', count: 50, delayMs: 50 })
      const done = collect(call)
      await new Promise((resolve) => call.once('data', resolve))
      b.kill()
      const r = await done
      expect(r.messages.length).toBeGreaterThanOrEqual(1)
      expect(r.messages.length).toBeLessThan(50)
      expect(r.status?.code).toBe(grpc.status.UNAVAILABLE)
    } finally {
      c.close()
      await g.close()
      await b.close()
    }
  })

  it('retries only on the gRPC statuses the pool lists', async () => {
    const bad = await startGrpcBackend('bad')
    const good = await startGrpcBackend('good')
    bad.failWith = grpc.status.UNAVAILABLE
    const config = (on: string[]) => ({
      server: { h2c: true },
      pools: { echo: { backends: [bad.url, good.url], protocol: 'h2c', algorithm: 'round-robin', retry: { attempts: 1, on }, circuitBreaker: false } },
      routes: [{ name: 'echo', match: { path: '/' }, pool: 'echo' }],
    })
    const g = await startGateway(config(['connect-error', 'unavailable']))
    const c = echoClient(target(g))
    try {
      // Round-robin starts on either backend; every call succeeds on good, after bad if needed.
      for (let i = 0; i < 4; i++) expect((await unary(c, { text: String(i) })).reply.text).toBe(`good:${i}`)
      expect(bad.calls.length).toBeGreaterThan(0)

      expect((await g.reload(config(['connect-error']))).ok).toBe(true)
      const codes = new Set<number>()
      for (let i = 0; i < 4; i++) codes.add(await unary(c, { text: 'n' }).then(() => grpc.status.OK, (e: grpc.ServiceError) => e.code))
      expect([...codes].sort()).toEqual([grpc.status.OK, grpc.status.UNAVAILABLE])
    } finally {
      c.close()
      await g.close()
      await bad.close()
      await good.close()
    }
  })
})

describe('gRPC over TLS (HTTP/2 by ALPN on the TLS listener, h2 to a TLS backend)', () => {
  it('unary and server streaming, trusting the gateway CA', async () => {
    const pki = await createPki()
    const gwLeaf = await pki.issue('gw', { subject: '/CN=gw.example.com', dns: ['gw.example.com'], ips: ['127.0.0.1'] })
    const upLeaf = await pki.issue('up', { subject: '/CN=localhost', ips: ['127.0.0.1'] })
    const b = await startGrpcBackend('tls', { cert: await readFile(upLeaf.cert), key: await readFile(upLeaf.key) })
    const g = await startGateway({
      server: { tls: { port: 0, certificates: [{ cert: gwLeaf.cert, key: gwLeaf.key }] } },
      pools: { echo: { backends: [b.url], protocol: 'h2', tls: { ca: pki.ca.cert } } },
      routes: [{ name: 'echo', match: { path: '/' }, pool: 'echo' }],
    })
    const c = echoClient(new URL(g.httpsUrl!).host, grpc.credentials.createSsl(Buffer.from(pki.ca.pem)), { 'grpc.ssl_target_name_override': 'gw.example.com' })
    try {
      expect((await unary(c, { text: 'sealed' })).reply.text).toBe('tls:sealed')
      const r = await collect(c.ServerStream({ text: 's', count: 3 }))
      expect(r.messages.map((m) => m.text)).toEqual(['tls:s:0', 'tls:s:1', 'tls:s:2'])
      expect(r.status?.code).toBe(grpc.status.OK)
    } finally {
      c.close()
      await g.close()
      await b.close()
      await pki.cleanup()
    }
  })
})
