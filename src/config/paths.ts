/**
 * Problem paths in the notation users read in `switchyard check`: `routes[2].split[1].pool`,
 * `pools.users-v1.backends[0]`, and `pools["odd.name"]` for keys that would be ambiguous.
 */
const PLAIN_KEY = /^[A-Za-z_$][\w$-]*$/

export const ROOT = ''

export function childPath(parent: string, key: string): string {
  const segment = PLAIN_KEY.test(key) ? key : `[${JSON.stringify(key)}]`
  if (parent === ROOT) return segment
  return segment.startsWith('[') ? `${parent}${segment}` : `${parent}.${segment}`
}

export function indexPath(parent: string, index: number): string {
  return `${parent}[${index}]`
}

/** `a` is `b` or one of its descendants. */
export function isWithin(path: string, ancestor: string): boolean {
  if (ancestor === ROOT) return true
  if (path === ancestor) return true
  if (!path.startsWith(ancestor)) return false
  const next = path.charAt(ancestor.length)
  return next === '.' || next === '['
}

/** What users see for the whole document. */
export function displayPath(path: string): string {
  return path === ROOT ? '(root)' : path
}
