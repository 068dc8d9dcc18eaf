export { createAccessLog, formatFields, type AccessEntry, type AccessLog, type AccessLogOptions, type AccessSink } from './access-log.js'
export { accessSinkFor, bindingsOf, createGatewayLogger, setAccessSink, warnOnLogChanges, type GatewayLogger } from './logger.js'
