import type { Clock } from './types.js'

/** Monotonic time: wall-clock jumps (NTP, DST) must not open breakers or expire load reports. */
export const systemClock: Clock = { now: () => performance.now() }
