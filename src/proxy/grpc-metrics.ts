/**
 * `switchyard_grpc_requests_total{route, code}`: gRPC calls by the status their client saw
 * (OK, UNAVAILABLE, DEADLINE_EXCEEDED, …), whether the backend or the gateway decided it.
 * A gRPC call's HTTP status is 200 whatever happened, so the HTTP request metrics cannot tell a
 * failed call from a good one. Labelled by route, not by service or method: the path is the
 * client's to choose, and a label per path would let clients grow the registry without bound.
 */
import { Counter, type Registry } from 'prom-client'

/** Status names by code (grpc/grpc doc/statuscodes.md). */
export const GRPC_CODE_NAMES = [
  'OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS', 'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE', 'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED',
] as const

const counters = new WeakMap<Registry, Counter<'route' | 'code'>>()

function counterFor(registry: Registry): Counter<'route' | 'code'> {
  let c = counters.get(registry)
  if (c === undefined) {
    c = new Counter({
      name: 'switchyard_grpc_requests_total',
      help: 'gRPC calls by route and the grpc-status their client received (from the backend or the gateway)',
      labelNames: ['route', 'code'] as const,
      registers: [registry],
    })
    counters.set(registry, c)
  }
  return c
}

/** Count one finished gRPC call; `status` as sent in grpc-status (a code, or text from a backend). */
export function countGrpcStatus(registry: Registry, route: string, status: string | number): void {
  const n = Number(status)
  const code = Number.isInteger(n) && n >= 0 && n < GRPC_CODE_NAMES.length ? GRPC_CODE_NAMES[n]! : 'UNKNOWN'
  counterFor(registry).inc({ route, code })
}
