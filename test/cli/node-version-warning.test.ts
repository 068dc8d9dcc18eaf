import { describe, expect, it } from 'vitest'
import { nodeTooOld, parseArgs } from '../../src/cli.js'

describe('Node version check', () => {
  it('flags Node older than 22.12 (the gateway logs a warning at start) and accepts 22.12+ and 24', () => {
    expect(nodeTooOld('20.20.2')).toBe(true)
    expect(nodeTooOld('22.11.0')).toBe(true)
    expect(nodeTooOld('22.12.0')).toBe(false)
    expect(nodeTooOld('24.21.0')).toBe(false)
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
