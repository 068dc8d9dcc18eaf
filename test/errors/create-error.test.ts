import { describe, expect, it } from 'vitest'
import { createError } from '../../src/error-registry.js'
import { ConfigError } from '../../src/config/errors.js'
import { ERR_RATE_LIMIT_STORE } from '../../src/ratelimit/errors.js'

describe('createError (src/error-registry.ts)', () => {
  it('formats the message from the constructor arguments, %s by %s', () => {
    const E = createError('SWITCHYARD_TEST_FORMAT', 'no route matches %s %s', 404)
    const e = new E('GET', '/x')
    expect(e.message).toBe('no route matches GET /x')
    // util.format semantics: arguments without a placeholder are appended.
    expect(new E('GET', '/x', 'extra').message).toBe('no route matches GET /x extra')
    expect(new E().message).toBe('no route matches %s %s')
  })

  it('carries code (upper-cased), statusCode and a name', () => {
    const E = createError('switchyard_test_code', 'boom', 503)
    const e = new E()
    expect(e.code).toBe('SWITCHYARD_TEST_CODE')
    expect(e.statusCode).toBe(503)
    expect(e.name).toBe('SwitchyardError')
    expect(String(e)).toBe('SwitchyardError [SWITCHYARD_TEST_CODE]: boom')
    expect(Object.prototype.toString.call(e)).toBe('[object Error]')
  })

  it('defaults the status to 500; a status of 0 means none', () => {
    expect(new (createError('SWITCHYARD_TEST_DEFAULT', 'x'))().statusCode).toBe(500)
    expect(new (createError('SWITCHYARD_TEST_DEFAULT', 'x', undefined))().statusCode).toBe(500)
    expect(new (createError('SWITCHYARD_TEST_NONE', 'x', 0))().statusCode).toBeUndefined()
  })

  it('keeps a last { cause } argument as cause, out of the message', () => {
    const E = createError('SWITCHYARD_TEST_CAUSE', 'fetch failed: %s', 502)
    const low = new Error('ECONNREFUSED')
    const e = new E('refused', { cause: low })
    expect(e.cause).toBe(low)
    expect(e.message).toBe('fetch failed: refused')
    const only = new ERR_RATE_LIMIT_STORE({ cause: low })
    expect(only.cause).toBe(low)
    expect(only.message).toBe('rate limit store unavailable')
    expect(only.statusCode).toBe(503)
    expect(new E('no cause').cause).toBeUndefined()
    expect(Object.hasOwn(new E('no cause'), 'cause')).toBe(false)
  })

  it('instanceof: its own constructor, any constructor of the same code, Error or the Base; not another code', () => {
    const A = createError('SWITCHYARD_TEST_A', 'a', 400)
    const A2 = createError('SWITCHYARD_TEST_A', 'a again', 400)
    const B = createError('SWITCHYARD_TEST_B', 'b', 400)
    const T = createError('SWITCHYARD_TEST_T', '%s', 500, TypeError)
    const a = new A()
    expect(a).toBeInstanceOf(A)
    expect(a).toBeInstanceOf(A2)
    expect(a).toBeInstanceOf(Error)
    expect(a).not.toBeInstanceOf(B)
    expect(new T('t')).toBeInstanceOf(TypeError)
    expect(({}) instanceof A).toBe(false)
    expect((null as unknown) instanceof A).toBe(false)
  })

  it('works without new, and as a base class', () => {
    const E = createError('SWITCHYARD_TEST_CALL', 'called %s', 418)
    const e = (E as unknown as (...a: unknown[]) => InstanceType<typeof E>)('plain')
    expect(e).toBeInstanceOf(E)
    expect(e.message).toBe('called plain')

    const c = new ConfigError([{ path: 'routes[0].path', message: 'must start with /' }], '/etc/gw.yaml')
    expect(c).toBeInstanceOf(ConfigError)
    expect(c).toBeInstanceOf(Error)
    expect(c.code).toBe('SWITCHYARD_CONFIG_INVALID')
    expect(c.statusCode).toBe(500)
    expect(c.message).toBe('invalid configuration in /etc/gw.yaml (1 problem):\n  routes[0].path: must start with /')
    expect(c.lines()).toEqual(['routes[0].path: must start with /'])
  })

  it('captures a stack by default, and none with captureStackTrace=false', () => {
    const WithStack = createError('SWITCHYARD_TEST_STACK', 'x', 500)
    const NoStack = createError('SWITCHYARD_TEST_NOSTACK', 'x', 500, undefined, false)
    expect(new WithStack().stack).toContain('create-error.test')
    expect(new NoStack().stack).toBeUndefined()
  })

  it('refuses an empty code or message', () => {
    expect(() => createError('', 'x')).toThrow()
    expect(() => createError('SWITCHYARD_TEST_EMPTY', '')).toThrow()
  })
})
