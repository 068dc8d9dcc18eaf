/**
 * Raw HTTP over TCP for tests that must send what a well-behaved client never would
 * (smuggling, malformed framing, slow headers) and read exactly what comes back.
 */
import net from 'node:net'

/**
 * Send raw bytes on a fresh TCP connection and collect everything the server writes until it
 * closes the connection or `idleMs` passes without data.
 */
export function rawExchange(port: number, payload: string | Buffer | (string | Buffer)[], idleMs = 300, host = '127.0.0.1'): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, host)
    const chunks: Buffer[] = []
    let timer: NodeJS.Timeout | undefined
    const finish = (): void => {
      clearTimeout(timer)
      socket.destroy()
      resolve(Buffer.concat(chunks).toString('latin1'))
    }
    const arm = (): void => {
      clearTimeout(timer)
      timer = setTimeout(finish, idleMs)
    }
    socket.on('connect', () => {
      for (const p of Array.isArray(payload) ? payload : [payload]) socket.write(p)
      arm()
    })
    socket.on('data', (d) => {
      chunks.push(d)
      arm()
    })
    socket.on('end', finish)
    socket.on('close', finish)
    socket.on('error', (err) => {
      clearTimeout(timer)
      if (chunks.length) finish()
      else reject(err)
    })
  })
}

/** The status code of the first response in a raw exchange, or 0 when nothing came back. */
export function statusOf(raw: string): number {
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(raw)
  return m ? Number(m[1]) : 0
}

/** Every response status in a raw exchange (pipelined answers). */
export function statusesOf(raw: string): number[] {
  return [...raw.matchAll(/HTTP\/1\.[01] (\d{3})/g)].map((m) => Number(m[1]))
}

export interface Dribble {
  /** Everything the server wrote so far (latin1). */
  readonly answer: () => string
  readonly closed: () => boolean
  stop(): void
}

/**
 * Open a connection, send `head`, then keep sending `drip` every `everyMs` (a slowloris-style
 * client) until the server closes the connection or stop() is called.
 */
export async function dribble(port: number, head: string, drip: string, everyMs = 100): Promise<Dribble> {
  const socket = net.connect(port, '127.0.0.1')
  let answer = ''
  let closed = false
  socket.on('data', (d) => (answer += d.toString('latin1')))
  socket.on('close', () => (closed = true))
  socket.on('error', () => {})
  await new Promise<void>((r) => socket.once('connect', () => r()))
  socket.write(head)
  const timer = setInterval(() => socket.writable && socket.write(drip), everyMs)
  return {
    answer: () => answer,
    closed: () => closed,
    stop() {
      clearInterval(timer)
      socket.destroy()
    },
  }
}
