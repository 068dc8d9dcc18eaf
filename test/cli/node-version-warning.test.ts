import { describe, expect, it } from 'vitest'
import { nodeTooOld, parseArgs, warnIfOldNode } from '../../src/cli.js'
import { captureLogger } from '../helpers/gateway.js'

describe('Node version check', () => {
  it('flags Node older than 22.12 (the gateway logs a warning at start) and accepts 22.12+ and 24', () => {
    expect(nodeTooOld('20.20.2')).toBe(true)
    expect(nodeTooOld('22.11.0')).toBe(true)
    expect(nodeTooOld('22.12.0')).toBe(false)
    expect(nodeTooOld('24.21.0')).toBe(false)
  })

  it('start logs a warning on an older Node, and nothing on Node 24', () => {
    const { logger, lines } = captureLogger()
    expect(warnIfOldNode(logger, '20.20.2')).toBe(true)
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatchObject({ level: 40, node: 'v20.20.2' })
    expect(String(lines[0]!.msg)).toContain('Node 24 LTS')
    expect(warnIfOldNode(logger, '24.21.0')).toBe(false)
    expect(lines).toHaveLength(1)
  })

  it('the suite itself runs on the pinned Node 24', () => {
    expect(Number(process.versions.node.split('.')[0])).toBeGreaterThanOrEqual(24)
  })
})

describe('argument parsing', () => {
  it('reads the command, -c and repeated -H', () => {
    expect(parseArgs(['explain', '-c', 'g.yaml', 'GET', 'http://h/x', '-H', 'a: 1', '-H', 'b: 2'])).toEqual({
      command: 'explain',
      config: 'g.yaml',
      headers: ['a: 1', 'b: 2'],
      positional: ['GET', 'http://h/x'],
    })
  })
})
