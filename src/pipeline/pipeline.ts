/**
 * Compiling features into per-route pipelines, and running one.
 *
 * For each configuration the gateway prepares every feature (feature.ts), then compiles each
 * route once: the stages the route uses, in phase order (early, auth, late) and feature order
 * within a phase, and its forward chain (the base forward wrapped by the middlewares the route
 * uses, outer features outermost). A route no feature applies to has `stages: null` and the
 * bare forward. The result is immutable and lives in the RuntimeState, so a reload swaps it
 * with everything else and requests in flight keep theirs.
 */
import { ConfigError } from '../config/errors.js'
import type { GatewaySettings } from '../config/model.js'
import { decidePool } from '../proxy/decision.js'
import type { ProxyRequest } from '../proxy/request.js'
import type { Forward } from '../proxy/types.js'
import type { RequestContext } from '../request-context.js'
import type { CompiledRoute, RouteTable } from '../routing/types.js'
import type { Feature, PreparedFeature, StagePhase, StageRun } from './feature.js'

/** What one route runs. */
export interface RoutePipeline {
  /** Stages in run order, or null when the route uses none. */
  readonly stages: readonly StageRun[] | null
  /** The route's forward chain. */
  readonly forward: Forward
  /** Names of the features this route uses, in order (explain, debugging). */
  readonly features: readonly string[]
}

/** Every route's pipeline, indexed by `CompiledRoute.index`. */
export type Pipelines = readonly RoutePipeline[]

const PHASES: readonly StagePhase[] = ['early', 'auth', 'late']

/** Prepared features of one configuration, not yet committed. */
export interface PreparedFeatures {
  readonly entries: readonly { readonly feature: Feature; readonly prepared: PreparedFeature }[]
  commit(): void
  discard(): void
}

/**
 * Prepare every feature for `next`. Problems of all features are collected into one
 * ConfigError; on any failure, what was prepared is discarded.
 */
export async function prepareFeatures(features: readonly Feature[], next: GatewaySettings, current: GatewaySettings | undefined): Promise<PreparedFeatures> {
  const entries: { feature: Feature; prepared: PreparedFeature }[] = []
  const problems: { path: string; message: string }[] = []
  for (const feature of features) {
    if (feature.prepare === undefined) {
      entries.push({ feature, prepared: {} })
      continue
    }
    try {
      entries.push({ feature, prepared: await feature.prepare(next, current) })
    } catch (err) {
      if (err instanceof ConfigError) problems.push(...err.problems)
      else problems.push({ path: `(${feature.name})`, message: (err as Error).message })
    }
  }
  const discard = (): void => {
    for (const e of entries) e.prepared.discard?.()
  }
  if (problems.length > 0) {
    discard()
    throw new ConfigError(problems)
  }
  return {
    entries,
    commit() {
      for (const e of entries) e.prepared.commit?.()
    },
    discard,
  }
}

/** Compile every route of `table` against the prepared features. */
export function compilePipelines(table: RouteTable, prepared: PreparedFeatures, base: Forward): Pipelines {
  return table.routes.map((route) => compileRoute(route, prepared, base))
}

function compileRoute(route: CompiledRoute, prepared: PreparedFeatures, base: Forward): RoutePipeline {
  const byPhase: Record<StagePhase, StageRun[]> = { early: [], auth: [], late: [] }
  const middlewares: NonNullable<ReturnType<NonNullable<PreparedFeature['compileRoute']>>>['middleware'][] = []
  const names: string[] = []
  for (const { feature, prepared: p } of prepared.entries) {
    const rf = p.compileRoute?.(route)
    if (rf === undefined || (rf.stage === undefined && rf.middleware === undefined)) continue
    names.push(feature.name)
    if (rf.stage !== undefined) byPhase[rf.stage.phase].push(rf.stage.run)
    if (rf.middleware !== undefined) middlewares.push(rf.middleware)
  }
  const stages = PHASES.flatMap((p) => byPhase[p])
  let forward = base
  for (let i = middlewares.length - 1; i >= 0; i--) forward = middlewares[i]!(forward)
  return Object.freeze({ stages: stages.length === 0 ? null : Object.freeze(stages), forward, features: Object.freeze(names) })
}

function isPromise(v: unknown): v is Promise<void> {
  return v !== undefined && typeof (v as Promise<void>).then === 'function'
}

async function continueAsync(pending: Promise<void>, stages: readonly StageRun[], from: number, request: ProxyRequest, ctx: RequestContext): Promise<void> {
  await pending
  for (let i = from; i < stages.length; i++) {
    const r = stages[i]!(request, ctx)
    if (isPromise(r)) await r
  }
  decidePool(request, ctx)
}

/**
 * Run the route's stages, then decide the pool. Synchronous (returns undefined) while every
 * stage is; switches to a promise at the first stage that waits. Throws or rejects with the
 * error that answers the request.
 */
export function runStages(pipeline: RoutePipeline, request: ProxyRequest, ctx: RequestContext): void | Promise<void> {
  const stages = pipeline.stages
  if (stages !== null) {
    for (let i = 0; i < stages.length; i++) {
      const r = stages[i]!(request, ctx)
      if (isPromise(r)) return continueAsync(r, stages, i + 1, request, ctx)
    }
  }
  decidePool(request, ctx)
}
