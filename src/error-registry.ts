/**
 * The gateway's typed-error factory, framework-free. `createError(code, format, status)`
 * returns a constructor whose instances carry `code`, `statusCode` and a `message` formatted
 * from the constructor's arguments (`%s` and the rest of `util.format`); a last argument
 * `{ cause }` is kept as `cause` and not formatted. It keeps the semantics of @fastify/error,
 * which the error registries used before, so Fastify's error handler (it reads `statusCode`,
 * `message` and `code`) answers these errors exactly as it did:
 *
 * - the constructor works with or without `new`, and can be subclassed (`class X extends E`);
 * - `instanceof` holds for every constructor made with the same code (a second copy of this
 *   module included), and `instanceof Error` (or `Base`) holds too;
 * - `captureStackTrace = false` skips the stack entirely (no `Error` constructor runs), for
 *   expected outcomes on the hot path;
 * - `toString()` is `SwitchyardError [CODE]: message`.
 */
import { format } from 'node:util'

/** What every registry error has. */
export interface RegistryError extends Error {
  code: string
  name: string
  statusCode?: number
}

/** A registry error constructor: `new E(...args)`, `E(...args)`, or `class X extends E`. */
export interface RegistryErrorConstructor<
  E extends { code: string; statusCode?: number } = { code: string; statusCode?: number },
  Args extends unknown[] = [any?, any?, any?],
> {
  new (...args: Args): RegistryError & E
  (...args: Args): RegistryError & E
  readonly prototype: RegistryError & E
}

export function createError<C extends string, SC extends number, Args extends unknown[] = [any?, any?, any?]>(
  code: C,
  messageFormat: string,
  statusCode: SC,
  Base?: ErrorConstructor,
  captureStackTrace?: boolean,
): RegistryErrorConstructor<{ code: C; statusCode: SC }, Args>
export function createError<C extends string, Args extends unknown[] = [any?, any?, any?]>(
  code: C,
  messageFormat: string,
  statusCode?: number,
  Base?: ErrorConstructor,
  captureStackTrace?: boolean,
): RegistryErrorConstructor<{ code: C }, Args>
export function createError(
  code: string,
  messageFormat: string,
  statusCode: number | undefined = 500,
  Base: ErrorConstructor = Error,
  captureStackTrace = true,
): RegistryErrorConstructor {
  if (!code) throw new Error('error code must not be empty')
  if (!messageFormat) throw new Error('error message must not be empty')
  const errorCode = code.toUpperCase()
  const status = statusCode || undefined
  // Shared across copies of this module, like @fastify/error's per-code symbol.
  const brand = Symbol.for(`switchyard-error ${errorCode}`)

  function SwitchyardError(this: Record<string, unknown>, ...args: unknown[]): unknown {
    if (!new.target) return new (SwitchyardError as unknown as new (...a: unknown[]) => unknown)(...args)
    // Own properties in this order, as @fastify/error sets them (logs serialise them so).
    this.code = errorCode
    this.name = 'SwitchyardError'
    this.statusCode = status
    const last = args[args.length - 1]
    if (last !== null && typeof last === 'object' && 'cause' in last) {
      args.pop()
      this.cause = (last as { cause: unknown }).cause
    }
    this.message = format(messageFormat, ...args)
    if (Error.stackTraceLimit && captureStackTrace) Error.captureStackTrace(this, SwitchyardError)
    return undefined
  }

  SwitchyardError.prototype = Object.create(Base.prototype, {
    constructor: { value: SwitchyardError, enumerable: false, writable: true, configurable: true },
    [brand]: { value: true, enumerable: false, writable: false, configurable: false },
    [Symbol.toStringTag]: { value: 'Error', enumerable: false, writable: true, configurable: true },
    toString: { value: registryErrorToString, enumerable: false, writable: true, configurable: true },
  })
  Object.defineProperty(SwitchyardError, Symbol.hasInstance, {
    value: (instance: unknown): boolean => typeof instance === 'object' && instance !== null && (instance as Record<symbol, unknown>)[brand] === true,
    configurable: false,
    writable: false,
    enumerable: false,
  })
  return SwitchyardError as unknown as RegistryErrorConstructor
}

function registryErrorToString(this: RegistryError): string {
  return `${this.name} [${this.code}]: ${this.message}`
}
