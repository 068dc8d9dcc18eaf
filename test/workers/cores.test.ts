import { describe, expect, it } from 'vitest'
import { cgroupCpuLimit, resolveWorkerCount } from '../../src/workers/cores.js'

describe('server.workers: auto', () => {
  it('is the cores available, lowered by a cgroup CPU quota (rounded up, at least 1)', () => {
    expect(resolveWorkerCount('auto', 8, undefined)).toBe(8)
    expect(resolveWorkerCount('auto', 8, 2.5)).toBe(3)
    expect(resolveWorkerCount('auto', 2, 16)).toBe(2)
    expect(resolveWorkerCount('auto', 4, 0.2)).toBe(1)
    expect(resolveWorkerCount(3, 8, 1)).toBe(3)
  })

  it('reads cgroup v2 cpu.max and v1 cfs quota/period', () => {
    const files = (m: Record<string, string>) => (p: string) => m[p]
    expect(cgroupCpuLimit(files({ '/sys/fs/cgroup/cpu.max': 'max 100000' }))).toBeUndefined()
    expect(cgroupCpuLimit(files({ '/sys/fs/cgroup/cpu.max': '250000 100000' }))).toBe(2.5)
    expect(cgroupCpuLimit(files({ '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '150000', '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000' }))).toBe(1.5)
    expect(cgroupCpuLimit(files({ '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '-1', '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000' }))).toBeUndefined()
    expect(cgroupCpuLimit(files({}))).toBeUndefined()
  })
})
