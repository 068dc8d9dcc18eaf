import { describe, expect, test } from 'vitest'
import { parseConfigText } from '../../src/config/index.js'

function everyObject(value: unknown, out: object[] = []): object[] {
  if (value !== null && typeof value === 'object') {
    out.push(value)
    for (const item of Object.values(value)) everyObject(item, out)
  }
  return out
}

describe('settings are deeply frozen', () => {
  const settings = parseConfigText(
    [
      'jwt: { algorithms: [HS256], secret: "0123456789abcdef0123456789abcdef" }',
      'pools: { a: { backends: [http://127.0.0.1:1], healthCheck: {} }, b: { backends: [http://127.0.0.1:2] } }',
      'routes: [{ name: r, split: [{ pool: a, weight: 1 }, { pool: b, weight: 1 }], match: { headers: { x: y } }, jwt: true }]',
    ].join('\n'),
  )

  test('every object and array in the settings is frozen', () => {
    const objects = everyObject(settings)
    expect(objects.length).toBeGreaterThan(20)
    expect(objects.filter((o) => !Object.isFrozen(o))).toEqual([])
  })

  test('writes throw instead of changing the configuration', () => {
    expect(() => {
      ;(settings.server as { port: number }).port = 1
    }).toThrow(TypeError)
    expect(() => {
      ;(settings.routes[0]!.split as { pool: string; weight: number }[]).push({ pool: 'c', weight: 1 })
    }).toThrow(TypeError)
    expect(() => {
      ;(settings.pools[0]!.healthCheck!.expectStatus[0] as unknown as number[])[0] = 100
    }).toThrow(TypeError)
    expect(settings.server.port).toBe(8080)
  })
})
