/**
 * Fewest requests in flight relative to weight. The score is (in flight + 1) / weight, as
 * HAProxy's leastconn does: with a bare in-flight/weight every idle backend scores 0 whatever
 * its weight, and a ramping (slowStart) backend would take all new traffic until busy.
 * Equal scores rotate: the scan starts after the backend chosen last.
 */
import type { Backend } from '../types.js'
import { RotatingScoreBalancer } from './rotating-score.js'

export class LeastConnectionsBalancer extends RotatingScoreBalancer {
  protected scorer(): (b: Backend) => number {
    const weight = this.weightFn()
    return (b) => (b.inFlight + 1) / weight(b)
  }
}
