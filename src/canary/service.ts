/**
 * What the admin API sees of the canary controller, looked up by the gateway handle (a
 * WeakMap, so nothing outlives the gateway). The admin routes depend on this, not on the
 * controller.
 */
import type { CohortCounts, CohortFigures } from './cohort-window.js'
import type { CanaryDecision, CanaryState, ShadowCounts, StepRecord } from './state-machine.js'

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
  /** With `gates.maxDivergence`: the current window's shadow comparisons. */
  readonly divergence?: { readonly compared: number; readonly diverged: number; readonly rate: number }
  readonly gates: Readonly<Record<string, number>>
  /** Decided steps with both cohorts' figures, oldest first. */
  readonly history: readonly (Omit<StepRecord, 'at'> & { readonly at: string })[]
  readonly lastDecision?: CanaryDecision & { readonly time: string }
  /** With `configSource.etcd`: the fleet as this instance sees it (the figures above are the fleet's). */
  readonly fleet?: { readonly instance: string | null; readonly role: 'leader' | 'follower'; readonly leader: string | null; readonly instances: readonly string[] }
}

export interface CanaryService {
  list(): CanaryView[]
  get(route: string): CanaryView | undefined
  /**
   * Throws UnknownCanaryError (404) or CanaryConflictError (409). A fleet's follower forwards
   * the action to the leader (a promise; CanaryNoLeaderError, 503, when it cannot).
   */
  act(route: string, action: CanaryAdminAction): CanaryView | Promise<CanaryView>
}

const services = new WeakMap<object, CanaryService>()

export function registerCanaryService(owner: object, service: CanaryService): void {
  services.set(owner, service)
}

export function canaryServiceOf(owner: object): CanaryService | undefined {
  return services.get(owner)
}

/**
 * Worker threads (`server.workers` > 1, src/workers/): each worker's controller reports its
 * cohort outcomes in batches and follows the weights the main thread's controller decides.
 * Plain data (structured clone).
 */

/** The weight one canary route runs at, as the deciding controller set it. */
export interface CanaryWeight {
  readonly route: string
  /** The analysis identity (the canary block): a worker still on another block ignores it until it reloads. */
  readonly key: string
  /** Candidate weight; the baseline gets 100 - weight. */
  readonly weight: number
  /**
   * Which window the weight belongs to: it changes with every decision (a new step, a resume,
   * a restart), so a batch counted before it is not fed into the window after it.
   */
  readonly epoch: number
}

/** One route's outcomes in one worker since its previous batch. */
export interface CanaryReport {
  readonly route: string
  readonly key: string
  /** The epoch of the weight the worker ran at while counting. */
  readonly epoch: number
  readonly baseline?: CohortCounts
  readonly candidate?: CohortCounts
  /** Shadow answers compared (mirror to the candidate with compare). */
  readonly shadow?: ShadowCounts
}

/** What the worker supervisor drives. Deciding side: ingest, weights, onWeights; reporting side: follow. */
export interface CanaryLink {
  /** Feed worker batches into the analyses (a batch of another block or epoch is dropped). */
  ingest(reports: readonly CanaryReport[]): void
  /** Every canary route's weight now (for a worker that starts or restarts). */
  weights(): CanaryWeight[]
  /** Called with the changed weights on every decision and reload. */
  onWeights(listener: (weights: CanaryWeight[]) => void): void
  /** A reporting controller: run at these weights (sends the batch counted at the previous ones first). */
  follow(weights: readonly CanaryWeight[]): void
}

const links = new WeakMap<object, CanaryLink>()

export function registerCanaryLink(owner: object, link: CanaryLink): void {
  links.set(owner, link)
}

export function canaryLinkOf(owner: object): CanaryLink | undefined {
  return links.get(owner)
}
