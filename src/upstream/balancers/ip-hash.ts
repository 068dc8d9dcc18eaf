/**
 * Client IP affinity by weighted rendezvous hashing (highest random weight): every backend
 * scores hash(ip, backend) scaled by its weight and the best score wins. When a backend leaves
 * or becomes unavailable only the clients it had move (to their second-best backend, which is
 * also the retry order); everyone else stays put, which plain hash-mod-N cannot offer.
 * slowStart does not apply: a ramp would move clients back and forth (NGINX refuses the same
 * combination for ip_hash).
 */
import type { Backend, Balancer, SelectionContext } from '../types.js'
import { fmix32, hash32 } from '../hash.js'
import { bestFirst } from './shared.js'

const TWO_POW_32 = 4294967296

export class IpHashBalancer implements Balancer {
  #for: readonly Backend[] | undefined
  #seeds = new Map<Backend, number>()

  candidates(backends: readonly Backend[], ctx: SelectionContext): Iterable<Backend> {
    if (backends !== this.#for) {
      this.#for = backends
      this.#seeds = new Map(backends.map((b) => [b, hash32(b.id)]))
    }
    const seeds = this.#seeds
    const key = hash32(ctx.clientIp)
    // Weighted HRW (Schindelhauer & Schomaker): minimise -ln(u) / weight with u uniform in (0, 1).
    const score = (b: Backend): number => {
      const u = (fmix32((key ^ (seeds.get(b) ?? 0)) >>> 0) + 0.5) / TWO_POW_32
      return -Math.log(u) / b.weight
    }
    return bestFirst(backends, 0, score)
  }
}
