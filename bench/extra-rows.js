// Gateway rows beyond the plain route. Features add theirs here.
export function extraRows(_upstream, _gwConfig) {
  return []
}
