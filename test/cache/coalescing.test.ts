import { describe, expect, it } from 'vitest'
import { Coalescer, type Timers } from '../../src/cache/coalescer.js'

function fakeTimers() {
  const pending = new Map<number, () => void>()
  let id = 0
  const timers: Timers = {
    setTimeout: (fn) => {
      pending.set(++id, fn)
      return id
    },
    clearTimeout: (h) => void pending.delete(h as number),
  }
  return { timers, fireAll: () => [...pending.values()].forEach((f) => f()), count: () => pending.size }
}

describe('request coalescing', () => {
  it('makes the first caller the leader and shares its value with the followers', async () => {
    const t = fakeTimers()
    const c = new Coalescer<string>(1000, t.timers)
    const a = c.join('k')!
    const b = c.join('k')!
    const d = c.join('k')!
    expect(a.leader).toBe(true)
    expect(b.leader).toBe(false)
    if (!a.leader || b.leader || d.leader) throw new Error('roles')
    a.flight.settle('entry')
    expect(await b.shared).toBe('entry')
    expect(await d.shared).toBe('entry')
    expect(c.size).toBe(0)
    expect(t.count()).toBe(0)
  })

  it('tells followers to make their own request when the result is not shareable', async () => {
    const c = new Coalescer<string>(1000, fakeTimers().timers)
    const a = c.join('k')!
    const b = c.join('k')!
    if (!a.leader || b.leader) throw new Error('roles')
    a.flight.settle(undefined)
    expect(await b.shared).toBeUndefined()
  })

  it('bounds the wait: at the timeout followers fall back and the key is free again', async () => {
    const t = fakeTimers()
    const c = new Coalescer<string>(1000, t.timers)
    const a = c.join('k')!
    const b = c.join('k')!
    if (!a.leader || b.leader) throw new Error('roles')
    t.fireAll()
    expect(await b.shared).toBeUndefined()
    expect(c.join('k')!.leader).toBe(true)
    a.flight.settle('late') // a late settle of an ended flight changes nothing
  })

  it('keeps different keys apart', () => {
    const c = new Coalescer<string>(1000, fakeTimers().timers)
    expect(c.join('a')!.leader).toBe(true)
    expect(c.join('b')!.leader).toBe(true)
  })
})
