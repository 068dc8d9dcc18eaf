/**
 * Lowest (in flight + 1) × moving-average response time, relative to weight: a backend twice
 * as fast takes twice the concurrency. A backend without measurements yet (new, or never
 * answered) gets the average of the measured ones, a neutral start: neither flooded as
 * "infinitely fast" nor starved as unknown. Ties rotate as in least-connections.
 */
import type { Backend } from '../types.js'
import { RotatingScoreBalancer } from './rotating-score.js'

export class LeastResponseTimeBalancer extends RotatingScoreBalancer {
  protected scorer(backends: readonly Backend[]): (b: Backend) => number {
    let sum = 0
    let measured = 0
    for (const b of backends) {
      if (b.responseTimeMs !== undefined) {
        sum += b.responseTimeMs
        measured++
      }
    }
    // Floor at 1ms so sub-millisecond loopback answers do not collapse every score to ~0.
    const neutral = measured > 0 ? Math.max(1, sum / measured) : 1
    const weight = this.weightFn()
    return (b) => ((b.inFlight + 1) * (b.responseTimeMs === undefined ? neutral : Math.max(1, b.responseTimeMs))) / weight(b)
  }
}
