/**
 * Pool and route names appear in metric labels, log fields and admin API URLs
 * (`PUT /api/routes/:name/split`), so they are kept to characters that need no escaping there.
 */
export const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/

export const NAME_RULE = 'names may contain letters, digits, ".", "_" and "-", and start with a letter or digit'
