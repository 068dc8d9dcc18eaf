/** Public API for embedding Switchyard. */
export { createGateway, type Gateway, type GatewayInput, type GatewayOptions, type ReloadResult } from './gateway.js'
/** The configuration as a file holds it (the schema's type): what `createGateway` and `normalizeConfig` take. */
export type { GatewayFile, GatewayFile as GatewayConfig } from './config/schema.js'
export { ConfigError, loadConfigFile, normalizeConfig, parseConfigText, checkConfigFile } from './config/index.js'
export type * from './config/model.js'
export type * from './upstream/types.js'
export type * from './routing/types.js'
export type * from './proxy/types.js'
export type { RequestContext } from './request-context.js'
export { kContext } from './request-context.js'
// Extending the data plane (GatewayOptions.features): a feature is compiled per route into a
// request stage and/or a forward middleware and runs on every listener (docs/architecture.md).
export type { Feature, PreparedFeature, RouteFeature, RequestStage, StagePhase, StageRun } from './pipeline/feature.js'
export { GatewayAnswer } from './pipeline/answer.js'
export type { ProxyRequest } from './proxy/request.js'
