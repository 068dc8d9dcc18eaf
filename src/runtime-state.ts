/**
 * One configuration compiled for serving. A reload builds a new RuntimeState and swaps the
 * gateway's reference in one assignment; requests keep the snapshot they started with.
 */
import type { GatewaySettings } from './config/model.js'
import type { Pipelines } from './pipeline/pipeline.js'
import type { RouteTable } from './routing/types.js'
import type { PoolRegistry } from './upstream/types.js'

export interface RuntimeState {
  /** Increments on every successful reload. */
  readonly version: number
  readonly settings: GatewaySettings
  readonly routes: RouteTable
  readonly pools: PoolRegistry
  /** Each route's compiled stages and forward chain, indexed by `CompiledRoute.index`. */
  readonly pipelines: Pipelines
}
