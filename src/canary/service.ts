/**
 * What the admin API sees of the canary controller, looked up by the gateway handle (a
 * WeakMap, so nothing outlives the gateway). The admin routes depend on this, not on the
 * controller.
 */
import type { CohortFigures } from './cohort-window.js'
import type { CanaryDecision, CanaryState, StepRecord } from './state-machine.js'

export type CanaryAdminAction = 'pause' | 'resume' | 'promote' | 'rollback'

export interface CanaryCohortView extends CohortFigures {
  readonly pool: string
  /** The pool's split weight now (percent). */
  readonly weight: number
}

/** `GET /api/canaries` entries. */
export interface CanaryView {
  readonly route: string
  readonly state: CanaryState
  /** 1-based. */
  readonly step: number
  readonly steps: readonly number[]
  /** The candidate's weight now. */
  readonly weight: number
  readonly interval: number
  readonly stepStartedAt: string
  /** Figures of the current step's window. */
  readonly baseline: CanaryCohortView
  readonly candidate: CanaryCohortView
  readonly p99Ratio: number | null
  readonly gates: Readonly<Record<string, number>>
  /** Decided steps with both cohorts' figures, oldest first. */
  readonly history: readonly (Omit<StepRecord, 'at'> & { readonly at: string })[]
  readonly lastDecision?: CanaryDecision & { readonly time: string }
}

export interface CanaryService {
  list(): CanaryView[]
  get(route: string): CanaryView | undefined
  /** Throws UnknownCanaryError (404) or CanaryConflictError (409). */
  act(route: string, action: CanaryAdminAction): CanaryView
}

const services = new WeakMap<object, CanaryService>()

export function registerCanaryService(owner: object, service: CanaryService): void {
  services.set(owner, service)
}

export function canaryServiceOf(owner: object): CanaryService | undefined {
  return services.get(owner)
}
