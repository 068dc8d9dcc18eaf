/** Public API for embedding Switchyard. */
export { createGateway, type Gateway, type GatewayOptions, type ReloadResult } from './gateway.js'
export { ConfigError, loadConfigFile, normalizeConfig, parseConfigText, checkConfigFile } from './config/index.js'
export type * from './config/model.js'
export type * from './upstream/types.js'
export type * from './routing/types.js'
export type * from './proxy/types.js'
export type { RequestContext } from './request-context.js'
export { kContext } from './request-context.js'
