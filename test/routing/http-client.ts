/** Small HTTP helpers for the routing end-to-end tests (real sockets, no mocks). */
import net from 'node:net'
import type { Readable } from 'node:stream'
import { request } from 'undici'

export interface Answer {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
}

export async function send(url: string, init: { method?: string; headers?: Record<string, string>; body?: string | Buffer | Readable } = {}): Promise<Answer> {
  const res = await request(url, { method: (init.method ?? 'GET') as 'GET', headers: init.headers, body: init.body })
  const body = await res.body.text()
  return { status: res.statusCode, headers: res.headers, body }
}

/** Run `task` for 0..n-1 with at most `concurrency` in flight; results in index order. */
export async function inBatches<T>(n: number, concurrency: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array(n)
  let next = 0
  await Promise.all(
    Array.from({ length: Math.min(concurrency, n) }, async () => {
      while (next < n) {
        const i = next++
        out[i] = await task(i)
      }
    }),
  )
  return out
}

/** Send a request target exactly as written (clients would normalise `..` away); returns status line and body. */
export function rawGet(baseUrl: string, target: string): Promise<{ status: number; body: string }> {
  const { port, hostname } = new URL(baseUrl)
  return new Promise((resolve, reject) => {
    const s = net.connect(Number(port), hostname, () => s.write(`GET ${target} HTTP/1.1\r\nHost: ${hostname}\r\nConnection: close\r\n\r\n`))
    let out = ''
    s.on('data', (d: Buffer) => (out += d.toString('latin1')))
    s.on('end', () => {
      const status = Number(out.slice(9, 12))
      const split = out.indexOf('\r\n\r\n')
      const head = out.slice(0, split).toLowerCase()
      let body = out.slice(split + 4)
      if (head.includes('transfer-encoding: chunked')) body = dechunk(body)
      resolve({ status, body })
    })
    s.on('error', reject)
  })
}

function dechunk(text: string): string {
  let out = ''
  let i = 0
  for (;;) {
    const eol = text.indexOf('\r\n', i)
    const size = parseInt(text.slice(i, eol), 16)
    if (!(size > 0)) return out
    out += text.slice(eol + 2, eol + 2 + size)
    i = eol + 2 + size + 2
  }
}
