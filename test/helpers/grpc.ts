/**
 * A real gRPC server and client (@grpc/grpc-js) for the protocol tests: the Echo service of
 * test/fixtures/echo.proto on 127.0.0.1:0, cleartext (h2c) or TLS (h2).
 */
import * as grpc from '@grpc/grpc-js'
import * as protoLoader from '@grpc/proto-loader'
import { fileURLToPath } from 'node:url'

export const PROTO = fileURLToPath(new URL('../fixtures/echo.proto', import.meta.url))

export interface Msg {
  text?: string
  count?: number
  delayMs?: number
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyClient = grpc.Client & Record<string, any>

const definition = protoLoader.loadSync(PROTO, { keepCase: false, defaults: true })
const pkg = grpc.loadPackageDefinition(definition) as unknown as { switchyard: { test: { Echo: grpc.ServiceClientConstructor } } }
export const EchoService = pkg.switchyard.test.Echo

export interface GrpcBackend {
  readonly name: string
  readonly port: number
  readonly url: string
  /** Metadata of every call received, in order. */
  readonly calls: { method: string; metadata: Record<string, unknown>; deadlineMs: number }[]
  /** Answer every call with this status instead (e.g. UNAVAILABLE), when set. */
  failWith: grpc.status | undefined
  /** Unary calls running now, and those their client cancelled. */
  readonly inFlight: number
  readonly cancelled: number
  /** Stop at once: open streams are cut (a backend killed mid-stream). */
  kill(): void
  close(): Promise<void>
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** `tls`: serve h2 over TLS with this certificate (PEM); otherwise cleartext h2c. */
export async function startGrpcBackend(name: string, tls?: { cert: Buffer; key: Buffer }): Promise<GrpcBackend> {
  const creds = tls ? grpc.ServerCredentials.createSsl(null, [{ cert_chain: tls.cert, private_key: tls.key }]) : grpc.ServerCredentials.createInsecure()
  const server = new grpc.Server()
  const calls: GrpcBackend['calls'] = []
  const backend = { failWith: undefined as grpc.status | undefined, inFlight: 0, cancelled: 0 }
  // grpc-js keeps grpc-timeout out of the metadata: the call's deadline is where it shows.
  const record = (method: string, md: grpc.Metadata, call: { getDeadline(): grpc.Deadline }) => {
    const d = call.getDeadline()
    const at = d instanceof Date ? d.getTime() : d
    calls.push({ method, metadata: md.getMap(), deadlineMs: Number.isFinite(at) ? at - Date.now() : Infinity })
  }
  const trailer = () => {
    const md = new grpc.Metadata()
    md.set('x-served-by', name)
    return md
  }
  server.addService(EchoService.service, {
    Unary: async (call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) => {
      record('Unary', call.metadata, call)
      if (backend.failWith !== undefined) return cb({ code: backend.failWith, details: `${name} says no` })
      backend.inFlight++
      call.once('cancelled', () => backend.cancelled++)
      try {
        if (call.request.delayMs) await sleep(call.request.delayMs)
      } finally {
        backend.inFlight--
      }
      cb(null, { text: `${name}:${call.request.text}` }, trailer())
    },
    ServerStream: async (call: grpc.ServerWritableStream<Msg, Msg>) => {
      record('ServerStream', call.metadata, call)
      for (let i = 0; i < (call.request.count ?? 0); i++) {
        if (call.cancelled) return
        call.write({ text: `${name}:${call.request.text}:${i}` })
        if (call.request.delayMs) await sleep(call.request.delayMs)
      }
      call.end(trailer())
    },
    ClientStream: (call: grpc.ServerReadableStream<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) => {
      record('ClientStream', call.metadata, call)
      const parts: string[] = []
      call.on('data', (m: Msg) => parts.push(m.text ?? ''))
      call.on('end', () => cb(null, { text: `${name}:${parts.join(',')}`, count: parts.length }, trailer()))
    },
    Bidi: (call: grpc.ServerDuplexStream<Msg, Msg>) => {
      record('Bidi', call.metadata, call)
      call.on('data', (m: Msg) => call.write({ text: `${name}:${m.text}` }))
      call.on('end', () => call.end(trailer()))
    },
  })
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', creds, (err, p) => (err ? reject(err) : resolve(p))))
  return Object.assign(backend, {
    name,
    port,
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    calls,
    kill: () => server.forceShutdown(),
    close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
  })
}

/** An Echo client for `target` (host:port), cleartext unless `creds` says otherwise. */
export function echoClient(target: string, creds: grpc.ChannelCredentials = grpc.credentials.createInsecure(), options: grpc.ChannelOptions = {}): AnyClient {
  return new EchoService(target, creds, options) as AnyClient
}

/** A unary call as a promise: the reply and the trailing metadata, or the error. */
export function unary(client: AnyClient, msg: Msg, options: { metadata?: grpc.Metadata; deadlineMs?: number } = {}): Promise<{ reply: Msg; trailers: grpc.Metadata }> {
  return new Promise((resolve, reject) => {
    let trailers = new grpc.Metadata()
    const call = client.Unary(msg, options.metadata ?? new grpc.Metadata(), options.deadlineMs !== undefined ? { deadline: Date.now() + options.deadlineMs } : {}, (err: grpc.ServiceError | null, reply: Msg) => {
      if (err) reject(err)
      else setImmediate(() => resolve({ reply, trailers }))
    })
    call.on('status', (s: grpc.StatusObject) => (trailers = s.metadata))
  })
}

export { grpc }
