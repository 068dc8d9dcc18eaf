/** The balancer factory: one algorithm per file, chosen by the pool's `algorithm`. */
import type { PoolSettings } from '../../config/model.js'
import type { Balancer } from '../types.js'
import { ConsistentHashBalancer } from './consistent-hash.js'
import { IpHashBalancer } from './ip-hash.js'
import { LeastConnectionsBalancer } from './least-connections.js'
import { LeastResponseTimeBalancer } from './least-response-time.js'
import { PowerOfTwoChoicesBalancer } from './power-of-two-choices.js'
import { RandomBalancer } from './random.js'
import { ResourceBasedBalancer } from './resource-based.js'
import { RoundRobinBalancer } from './round-robin.js'
import { resolveOptions, type BalancerOptions } from './shared.js'
import { WeightedRoundRobinBalancer } from './weighted-round-robin.js'

export type { BalancerOptions } from './shared.js'

export function createBalancer(settings: PoolSettings, options?: BalancerOptions): Balancer {
  const o = resolveOptions(settings.slowStart, options)
  switch (settings.algorithm) {
    case 'round-robin':
      return new RoundRobinBalancer(o)
    case 'weighted-round-robin':
      return new WeightedRoundRobinBalancer(o)
    case 'least-connections':
      return new LeastConnectionsBalancer(o)
    case 'least-response-time':
      return new LeastResponseTimeBalancer(o)
    case 'ip-hash':
      return new IpHashBalancer()
    case 'consistent-hash':
      return new ConsistentHashBalancer()
    case 'random':
      return new RandomBalancer(o)
    case 'power-of-two-choices':
      return new PowerOfTwoChoicesBalancer(o)
    case 'resource-based':
      return new ResourceBasedBalancer(o, settings.healthCheck?.interval)
  }
}
