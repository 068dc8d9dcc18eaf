/**
 * The one error registry of the gateway's request path. Every error a client can see has a
 * code, a status and a message that never carries upstream internals; lower-level errors are
 * kept as `cause` for logs only.
 */
import { createError } from './error-registry.js'
import { STATUS_CODES } from 'node:http'
import { BadPathError } from './routing/errors.js'

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
// Generic answers, by status: what the body's `code` says when no more specific code applies
// (parser refusals, the admin listener, an unexpected failure). See codeForStatus.
export const ERR_HEADERS_TOO_LARGE = createError('SWITCHYARD_HEADERS_TOO_LARGE', 'request header fields too large', 431, undefined, false)
export const ERR_REQUEST_TIMEOUT = createError('SWITCHYARD_REQUEST_TIMEOUT', 'request timed out', 408, undefined, false)
export const ERR_UNAUTHORIZED = createError('SWITCHYARD_UNAUTHORIZED', '%s', 401, undefined, false)
export const ERR_FORBIDDEN = createError('SWITCHYARD_FORBIDDEN', '%s', 403, undefined, false)
export const ERR_NOT_FOUND = createError('SWITCHYARD_NOT_FOUND', '%s', 404, undefined, false)
export const ERR_INTERNAL = createError('SWITCHYARD_INTERNAL', 'internal error', 500, undefined, false)
export const ERR_UNAVAILABLE = createError('SWITCHYARD_UNAVAILABLE', '%s', 503, undefined, false)

import { ERR_ACCESS_DENIED, ERR_API_KEY_INVALID, ERR_API_KEY_MISSING, ERR_BASIC_AUTH, ERR_CORS_ORIGIN } from './policies/errors.js'

/** Codes a client can see, with their meaning; a test keeps docs/errors.md in step with this. */
export const ERROR_CODES = [
  ERR_NO_ROUTE, ERR_BAD_REQUEST, ERR_BODY_TOO_LARGE, ERR_URL_TOO_LONG, ERR_METHOD_NOT_ALLOWED, ERR_CLIENT_CLOSED, ERR_NO_BACKEND,
  ERR_UPSTREAM_CONNECT, ERR_UPSTREAM_RESET, ERR_UPSTREAM_BAD_RESPONSE, ERR_UPSTREAM_TLS,
  ERR_UPSTREAM_TIMEOUT, BadPathError, ERR_HEADERS_TOO_LARGE, ERR_REQUEST_TIMEOUT, ERR_UNAUTHORIZED, ERR_FORBIDDEN, ERR_NOT_FOUND,
  ERR_INTERNAL, ERR_UNAVAILABLE,
  ERR_ACCESS_DENIED, ERR_API_KEY_MISSING, ERR_API_KEY_INVALID, ERR_BASIC_AUTH, ERR_CORS_ORIGIN,
].map((E) => {
  const e = new (E as new (...args: unknown[]) => { code: string; statusCode?: number })('…', '…')
  return { code: e.code, statusCode: e.statusCode as number }
})

const CODE_BY_STATUS: Readonly<Record<number, string>> = {
  400: 'SWITCHYARD_BAD_REQUEST',
  401: 'SWITCHYARD_UNAUTHORIZED',
  403: 'SWITCHYARD_FORBIDDEN',
  404: 'SWITCHYARD_NOT_FOUND',
  405: 'SWITCHYARD_METHOD_NOT_ALLOWED',
  408: 'SWITCHYARD_REQUEST_TIMEOUT',
  413: 'SWITCHYARD_BODY_TOO_LARGE',
  414: 'SWITCHYARD_URL_TOO_LONG',
  429: 'SWITCHYARD_RATE_LIMITED',
  431: 'SWITCHYARD_HEADERS_TOO_LARGE',
  500: 'SWITCHYARD_INTERNAL',
  502: 'SWITCHYARD_UPSTREAM_CONNECT',
  503: 'SWITCHYARD_UNAVAILABLE',
  504: 'SWITCHYARD_UPSTREAM_TIMEOUT',
}

/** The generic code of a status, for answers without a more specific one. */
export function codeForStatus(status: number): string {
  return CODE_BY_STATUS[status] ?? 'SWITCHYARD_ERROR'
}

/**
 * The code of an error for the JSON body: its own when it is one of ours (SWITCHYARD_*), else
 * the generic code of `status`. Fastify's and Node's codes (FST_ERR_*, ERR_*) never reach a client.
 */
export function clientCodeOf(err: unknown, status: number): string {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' && code.startsWith('SWITCHYARD_') ? code : codeForStatus(status)
}

/**
 * The error body every gateway answer carries:
 * `{"statusCode":503,"error":"Service Unavailable","message":"…","code":"SWITCHYARD_NO_BACKEND"}`.
 * `code` is what a client branches on (messages may change); without one, the status's generic code.
 */
export function errorBody(statusCode: number, message: string, code: string = codeForStatus(statusCode)): string {
  return JSON.stringify({ statusCode, error: STATUS_CODES[statusCode] ?? 'Error', message, code })
}

/**
 * A whole HTTP/1.1 error answer for a raw socket, where no Fastify reply exists (parser
 * rejections, refused upgrades, CONNECT): the SPEC's JSON body, then the connection closes.
 * `extraHeaders` are complete `name: value\r\n` lines.
 */
export function rawErrorResponse(status: number, message: string, extraHeaders = '', code: string = codeForStatus(status)): string {
  const body = errorBody(status, message, code)
  return `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n${extraHeaders}content-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`
}
