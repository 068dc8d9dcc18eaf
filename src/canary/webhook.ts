/**
 * Decision notifications: a POST with a JSON body to `canary.webhook.url`. Fire and forget,
 * bounded: each has the configured timeout, at most MAX_IN_FLIGHT run at once (more are
 * dropped and logged), failures are logged and never retried (the event log and the metrics
 * hold the same facts), and nothing waits for them.
 */
import type { Logger } from 'pino'

export const MAX_WEBHOOKS_IN_FLIGHT = 16

/**
 * Sends one notification; rejects on a transport failure, a timeout, `signal` aborting (the
 * gateway closes) or a non-2xx answer.
 */
export type WebhookSender = (url: string, body: string, timeoutMs: number, signal: AbortSignal) => Promise<void>

export const fetchWebhook: WebhookSender = async (url, body, timeoutMs, signal) => {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'user-agent': 'switchyard-canary' },
    body,
    redirect: 'manual',
    signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]),
  })
  // Drain so the connection can be reused; the answer itself means nothing to us.
  await res.arrayBuffer().catch(() => undefined)
  if (res.status < 200 || res.status > 299) throw new Error(`answered ${res.status}`)
}

export interface Notifier {
  send(url: string, timeoutMs: number, payload: Record<string, unknown>): void
  /** Abort what is in flight (the gateway is closing). */
  close(): void
}

export function createNotifier(send: WebhookSender, log: Logger): Notifier {
  const inFlight = new Set<AbortController>()
  return {
    send(url, timeoutMs, payload) {
      if (inFlight.size >= MAX_WEBHOOKS_IN_FLIGHT) {
        log.warn({ type: 'canary', webhook: url, route: payload['route'] }, 'canary webhook: too many notifications in flight; this one is dropped')
        return
      }
      const controller = new AbortController()
      inFlight.add(controller)
      send(url, JSON.stringify(payload), timeoutMs, controller.signal)
        .catch((err: unknown) => {
          log.warn({ type: 'canary', webhook: url, route: payload['route'], action: payload['action'], err: (err as Error).message }, 'canary webhook failed')
        })
        .finally(() => inFlight.delete(controller))
    },
    close() {
      for (const c of inFlight) c.abort()
      inFlight.clear()
    },
  }
}
