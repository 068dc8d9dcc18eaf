import { describe, expect, it } from 'vitest'
import { captureLogger } from '../helpers/gateway.js'
import { createNotifier, MAX_WEBHOOKS_IN_FLIGHT, type WebhookSender } from '../../src/canary/webhook.js'

describe('canary webhook notifier', () => {
  it('holds at most MAX_WEBHOOKS_IN_FLIGHT notifications, drops and logs the rest, and aborts them on close', async () => {
    const { logger, lines } = captureLogger()
    const signals: AbortSignal[] = []
    const bodies: string[] = []
    const hang: WebhookSender = (_url, body, _timeout, signal) => {
      signals.push(signal)
      bodies.push(body)
      return new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(new Error('aborted'))))
    }
    const n = createNotifier(hang, logger)
    for (let i = 0; i < MAX_WEBHOOKS_IN_FLIGHT + 3; i++) n.send('http://127.0.0.1:1/h', 1000, { route: 'r', action: 'step', i })
    expect(signals).toHaveLength(MAX_WEBHOOKS_IN_FLIGHT)
    expect(JSON.parse(bodies[0]!)).toEqual({ route: 'r', action: 'step', i: 0 })
    expect(lines.filter((l) => String(l['msg']).includes('dropped'))).toHaveLength(3)
    n.close()
    expect(signals.every((s) => s.aborted)).toBe(true)
    await new Promise((r) => setImmediate(r))
    expect(lines.filter((l) => l['msg'] === 'canary webhook failed')).toHaveLength(MAX_WEBHOOKS_IN_FLIGHT)
    // Room again once they ended.
    n.send('http://127.0.0.1:1/h', 1000, { route: 'r' })
    expect(signals).toHaveLength(MAX_WEBHOOKS_IN_FLIGHT + 1)
    n.close()
  })
})
