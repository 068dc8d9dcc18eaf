/**
 * An answer the gateway gives itself, without an upstream: a CORS preflight (204), a route's
 * `respond:` or `redirect:`. A stage throws it like a refusal, so every later stage, the pool
 * decision and the forward chain are skipped by the same path a refusal takes; the adapter's
 * error handler recognises it and writes it as the success it is (never the JSON error body).
 *
 * Not an Error: nothing went wrong, and building a stack would cost for every static answer.
 */
export class GatewayAnswer {
  constructor(
    readonly statusCode: number,
    /** Lower-case names. The adapter adds the features' headers (ctx.responseHeaders) and the request id. */
    readonly headers: Readonly<Record<string, string>>,
    /** Sent as is; null for no content. */
    readonly body: Buffer | null,
  ) {}
}

export function isGatewayAnswer(v: unknown): v is GatewayAnswer {
  return v instanceof GatewayAnswer
}
