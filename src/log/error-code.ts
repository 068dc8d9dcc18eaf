/**
 * The error code of an answer the gateway gave itself (SWITCHYARD_*), carried from where the
 * answer is written to where it is counted and logged (switchyard_errors_total, the access
 * line's `code`). Kept on the Node response object: the error path only, so the hot path's
 * objects keep their shape.
 */
const kErrorCode = Symbol('switchyard.errorCode')

type Carrier = object & { [kErrorCode]?: string }

export function setErrorCode(res: object, code: string): void {
  ;(res as Carrier)[kErrorCode] = code
}

export function errorCodeOf(res: object): string | undefined {
  return (res as Carrier)[kErrorCode]
}
