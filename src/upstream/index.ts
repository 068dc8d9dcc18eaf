/** The upstream-pool layer's public API (framework-free). */
export type {
  Backend,
  BackendControl,
  BackendControlResult,
  BackendControlView,
  BackendState,
  Balancer,
  CircuitBreaker,
  CircuitState,
  Clock,
  FailureKind,
  HealthChecker,
  Lease,
  LoadReport,
  ManagedPoolRegistry,
  Pool,
  PoolRegistry,
  PoolSnapshot,
  SelectionContext,
  UpstreamEvent,
} from './types.js'
export { createPoolRegistry, UpstreamPoolRegistry, type PoolRegistryOptions, type UpstreamLogger } from './registry.js'
export { UpstreamPool } from './pool.js'
export { UpstreamBackend, connectOptions, type DispatcherConfig } from './backend.js'
export { createBalancer, type BalancerOptions } from './balancers/index.js'
export { ConsecutiveFailureBreaker, alwaysClosed, circuitStateValue, type BreakerHooks, type ManagedBreaker } from './circuit-breaker.js'
export { PoolHealthChecker, probeBackend } from './health-checker.js'
export { RetryBudget, type RetryBudgetOptions } from './retry-budget.js'
export { stickyTokenFor } from './hash.js'
export { systemClock } from './clock.js'
export { PoolTlsCaError } from './errors.js'
