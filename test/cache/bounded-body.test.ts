import { PassThrough, Readable } from 'node:stream'
import { text } from 'node:stream/consumers'
import { describe, expect, it } from 'vitest'
import { collectUpTo } from '../../src/cache/body.js'

describe('reading a body for storage within the entry bound', () => {
  it('buffers a body that fits', async () => {
    const c = await collectUpTo(Readable.from([Buffer.from('ab'), Buffer.from('cd')]), 4)
    expect(c.complete && c.body.toString()).toBe('abcd')
  })

  it('past the bound, streams the whole body on, the buffered head first', async () => {
    const parts = ['aaaa', 'bbbb', 'cccc', 'dddd'].map((s) => Buffer.from(s))
    const c = await collectUpTo(Readable.from(parts), 6)
    expect(c.complete).toBe(false)
    if (c.complete) throw new Error('expected the body to stream through')
    expect(await text(c.stream)).toBe('aaaabbbbccccdddd')
  })

  it('when the fill budget refuses a chunk, streams the whole body on (shed), keeping nothing', async () => {
    const parts = ['aaaa', 'bbbb', 'cccc'].map((s) => Buffer.from(s))
    let allowed = 1
    const c = await collectUpTo(Readable.from(parts), 100, () => allowed-- > 0)
    expect(c.complete).toBe(false)
    if (c.complete) throw new Error('expected the body to stream through')
    expect(c.reason).toBe('shed')
    expect(await text(c.stream)).toBe('aaaabbbbcccc')
    const whole = await collectUpTo(Buffer.from('abc'), 100, () => false)
    expect(!whole.complete && whole.reason).toBe('shed')
  })

  it('reports a body that fails before the bound', async () => {
    const src = new PassThrough()
    const p = collectUpTo(src, 100)
    src.write('x')
    src.destroy(new Error('reset'))
    await expect(p).rejects.toThrow('reset')
  })

  it('cancels the upstream body when the streamed copy is abandoned', async () => {
    const src = new PassThrough()
    const p = collectUpTo(src, 2)
    src.write('xyz')
    const c = await p
    expect(c.complete).toBe(false)
    if (c.complete) throw new Error('expected the body to stream through')
    const errors: Error[] = []
    src.on('error', (e) => errors.push(e))
    c.stream.destroy()
    await new Promise((r) => setImmediate(r))
    expect(src.destroyed).toBe(true)
    expect(errors[0]?.name).toBe('AbortError')
  })

  it('treats a buffer or no body as complete when it fits', async () => {
    expect(await collectUpTo(null, 1)).toEqual({ complete: true, body: Buffer.alloc(0) })
    const c = await collectUpTo(Buffer.from('abc'), 3)
    expect(c.complete && c.body.toString()).toBe('abc')
    expect((await collectUpTo(Buffer.from('abcd'), 3)).complete).toBe(false)
  })
})
