/**
 * An answer Node refuses to write (here a header value with a line break, which a feature put
 * in the response headers) closes that connection; it never ends the process, and the gateway
 * keeps serving.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { ERR_FORBIDDEN } from '../../src/errors.js'
import type { Feature } from '../../src/pipeline/feature.js'
import { rawExchange } from '../helpers/raw-http.js'
import { simpleConfig, startGateway, type StartedGateway } from '../helpers/gateway.js'
import { startUpstream, type TestUpstream } from '../helpers/upstream.js'

let gw: StartedGateway | undefined
let up: TestUpstream | undefined
afterEach(async () => {
  await gw?.close()
  await up?.close()
})

const broken: Feature = {
  name: 'broken-header',
  prepare: () => ({
    compileRoute: () => ({
      stage: {
        phase: 'early',
        run(request, ctx) {
          if (!request.url.startsWith('/broken')) return
          ctx.responseHeaders = { 'x-broken': 'a\r\nb' }
          throw new ERR_FORBIDDEN('no')
        },
      },
    }),
  }),
}

describe('an answer Node cannot write', () => {
  it('closes that connection and the gateway keeps serving', async () => {
    up = await startUpstream('ok')
    gw = await startGateway(simpleConfig([up.url]), { features: [broken] })
    const port = Number(new URL(gw.url).port)
    const raw = await rawExchange(port, 'GET /broken HTTP/1.1\r\nHost: a\r\n\r\n')
    expect(raw).not.toContain('x-broken')
    const ok = await fetch(`${gw.url}/fine`)
    expect(ok.status).toBe(200)
  })
})
