/**
 * `server.workers: auto`: the number of cores this process may use. `os.availableParallelism()`
 * honours the CPU affinity mask (taskset, cpusets); a container's CPU quota is a cgroup limit
 * it does not see, so the quota is read too (cgroup v2 `cpu.max`, v1 `cpu.cfs_quota_us` /
 * `cpu.cfs_period_us`) and the smaller of the two wins, rounded up, at least 1.
 */
import { readFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim()
  } catch {
    return undefined
  }
}

/** CPUs allowed by the cgroup quota, or undefined when unlimited or unknown. */
export function cgroupCpuLimit(readFile: (path: string) => string | undefined = read): number | undefined {
  const v2 = readFile('/sys/fs/cgroup/cpu.max')
  if (v2 !== undefined) {
    const [quota, period] = v2.split(/\s+/)
    if (quota === undefined || quota === 'max') return undefined
    const q = Number(quota)
    const p = Number(period ?? 100_000)
    return q > 0 && p > 0 ? q / p : undefined
  }
  const quota = Number(readFile('/sys/fs/cgroup/cpu/cpu.cfs_quota_us'))
  const period = Number(readFile('/sys/fs/cgroup/cpu/cpu.cfs_period_us'))
  return quota > 0 && period > 0 ? quota / period : undefined
}

/** Worker threads for a `server.workers` setting. */
export function resolveWorkerCount(setting: number | 'auto', cores = availableParallelism(), limit = cgroupCpuLimit()): number {
  if (setting !== 'auto') return setting
  return Math.max(1, Math.ceil(Math.min(cores, limit ?? Infinity)))
}
