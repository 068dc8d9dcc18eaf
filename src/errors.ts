/**
 * The one error registry of the gateway's request path. Every error a client can see has a
 * code, a status and a message that never carries upstream internals; lower-level errors are
 * kept as `cause` for logs only.
 */
import { createError } from './error-registry.js'
import { STATUS_CODES } from 'node:http'

// captureStackTrace=false: these are expected outcomes on the hot path, not bugs; stacks cost time.
export const ERR_NO_ROUTE = createError('SWITCHYARD_NO_ROUTE', 'no route matches %s %s', 404, undefined, false)
export const ERR_BAD_REQUEST = createError('SWITCHYARD_BAD_REQUEST', '%s', 400, undefined, false)
export const ERR_BODY_TOO_LARGE = createError('SWITCHYARD_BODY_TOO_LARGE', 'request body exceeds %s bytes', 413, undefined, false)
export const ERR_URL_TOO_LONG = createError('SWITCHYARD_URL_TOO_LONG', 'request target exceeds %s bytes', 414, undefined, false)
export const ERR_METHOD_NOT_ALLOWED = createError('SWITCHYARD_METHOD_NOT_ALLOWED', '%s is not allowed here', 405, undefined, false)
export const ERR_CLIENT_CLOSED = createError('SWITCHYARD_CLIENT_CLOSED', 'the client closed the connection before the answer', 499, undefined, false)
export const ERR_NO_BACKEND = createError('SWITCHYARD_NO_BACKEND', 'no backend available for pool "%s"', 503, undefined, false)
export const ERR_UPSTREAM_CONNECT = createError('SWITCHYARD_UPSTREAM_CONNECT', 'upstream connection failed', 502, undefined, false)
export const ERR_UPSTREAM_RESET = createError('SWITCHYARD_UPSTREAM_RESET', 'upstream closed the connection', 502, undefined, false)
export const ERR_UPSTREAM_BAD_RESPONSE = createError('SWITCHYARD_UPSTREAM_BAD_RESPONSE', 'upstream sent an invalid response', 502, undefined, false)
export const ERR_UPSTREAM_TLS = createError('SWITCHYARD_UPSTREAM_TLS', 'upstream TLS verification failed', 502, undefined, false)
export const ERR_UPSTREAM_TIMEOUT = createError('SWITCHYARD_UPSTREAM_TIMEOUT', 'upstream did not answer in time', 504, undefined, false)

/** Codes a client can see, with their meaning; a test keeps docs/errors.md in step with this. */
export const ERROR_CODES = [
  ERR_NO_ROUTE, ERR_BAD_REQUEST, ERR_BODY_TOO_LARGE, ERR_URL_TOO_LONG, ERR_METHOD_NOT_ALLOWED, ERR_CLIENT_CLOSED, ERR_NO_BACKEND,
  ERR_UPSTREAM_CONNECT, ERR_UPSTREAM_RESET, ERR_UPSTREAM_BAD_RESPONSE, ERR_UPSTREAM_TLS,
  ERR_UPSTREAM_TIMEOUT,
].map((E) => {
  const e = new E('…', '…')
  return { code: e.code, statusCode: e.statusCode as number }
})

/** The SPEC's error body: `{"statusCode":503,"error":"Service Unavailable","message":"…"}`. */
export function errorBody(statusCode: number, message: string): string {
  return JSON.stringify({ statusCode, error: STATUS_CODES[statusCode] ?? 'Error', message })
}

/**
 * A whole HTTP/1.1 error answer for a raw socket, where no Fastify reply exists (parser
 * rejections, refused upgrades, CONNECT): the SPEC's JSON body, then the connection closes.
 * `extraHeaders` are complete `name: value\r\n` lines.
 */
export function rawErrorResponse(status: number, message: string, extraHeaders = ''): string {
  const body = errorBody(status, message)
  return `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n${extraHeaders}content-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`
}
