/**
 * The configuration pipeline's public face: parse (YAML/JSON) → `${ENV}` → schema → normalise
 * → frozen GatewaySettings, or one ConfigError listing every `path: message`.
 */
export type * from './model.js'
export { ConfigError, InvalidUnitError, formatProblem, type ConfigProblem } from './errors.js'
export type { Env } from './env.js'
export { formatKeySource, parseKeySource } from './key-source.js'
export { checkConfigFile, loadConfigFile, normalizeConfig, parseConfigText, type ParseOptions } from './load.js'
export type { NormalizeOptions } from './normalize.js'
export type { ConfigFormat } from './parse-text.js'
export { DEFAULTS } from './defaults.js'
export { gatewayJsonSchema, GatewayFileSchema, type GatewayFile } from './schema.js'
export { parseDuration, parseSize } from './units.js'
