/**
 * Records keyed by names from the file (pools, headers, claims). A key such as `__proto__` must
 * become an ordinary own key, never a prototype: with a null prototype, assignment cannot
 * reach Object.prototype's setter, so it is reported as an unknown key or bad name instead of
 * silently changing what other keys read.
 */
export function plainRecord<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>
}

/** The same keys on an ordinary object (own data properties, so `__proto__` stays a plain key). */
export function ordinaryRecord<T>(record: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(record))
}
