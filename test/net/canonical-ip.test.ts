import { describe, expect, it } from 'vitest'
import { canonicalIp, compileTrustedProxies, resolveClientIp } from '../../src/net/client-ip.js'

describe('one canonical spelling per client address', () => {
  it.each([
    ['1.2.3.4', '1.2.3.4'],
    ['::ffff:1.2.3.4', '1.2.3.4'],
    ['::FFFF:1.2.3.4', '1.2.3.4'],
    ['0:0:0:0:0:ffff:102:304', '1.2.3.4'],
    ['0000:0000:0000:0000:0000:ffff:0102:0304', '1.2.3.4'],
    ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['::1', '::1'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['2001:db8::', '2001:db8::'],
    ['not-an-ip', 'not-an-ip'],
  ])('%s → %s', (input, out) => {
    expect(canonicalIp(input)).toBe(out)
  })

  it('a trusted X-Forwarded-For chain yields one key for every spelling of a client', () => {
    const trust = compileTrustedProxies(['127.0.0.1'])
    const keys = ['1.2.3.4', '::ffff:1.2.3.4', '0:0:0:0:0:ffff:102:304'].map((x) => resolveClientIp('127.0.0.1', x, trust))
    expect(new Set(keys)).toEqual(new Set(['1.2.3.4']))
  })
})
