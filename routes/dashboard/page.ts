/**
 * The dashboard page: one self-contained HTML document (inline CSS and script, no external
 * requests), kept as a TypeScript module so `tsc` ships it in dist/ and nothing is read from
 * disk at run time. The page holds no data: it fetches /api/stats with the admin token.
 *
 * The Content-Security-Policy allows exactly this page's script and stylesheet by hash and
 * network access only to its own origin.
 */
import { createHash } from 'node:crypto'
import { canaryJs } from './canary-script.js'
import { dashboardJs } from './script.js'
import { dashboardCss } from './style.js'

const sha256 = (s: string): string => `'sha256-${createHash('sha256').update(s, 'utf8').digest('base64')}'`

export const dashboardHtml = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<link rel="icon" href="data:,">
<title>Switchyard dashboard</title>
<style>${dashboardCss}</style>
</head>
<body>
<header class="top">
  <span class="logo"><span class="mark"></span>Switchyard</span>
  <span class="meta"><span id="version">config v–</span><span id="window">connecting…</span></span>
  <span class="spacer"></span>
  <span id="live" class="live"><span class="dot"></span><span id="live-text">connecting…</span></span>
  <button id="reload-button" type="button" title="POST /api/reload: re-read the configuration file">Reload config</button>
  <button id="token-button" type="button" title="Set the admin token for this tab">Admin token</button>
</header>
<main>
  <div id="error" class="banner hidden"></div>
  <div id="reload-msg" class="banner-ok hidden"></div>
  <div class="tiles">
    <div class="tile"><div class="label">Requests / s</div><div class="value" id="t-rate">–</div><div class="sub">all routes</div></div>
    <div class="tile"><div class="label">Error rate</div><div class="value" id="t-err">–</div><div class="sub">share of 5xx answers</div></div>
    <div class="tile"><div class="label">p99 latency</div><div class="value" id="t-p99">–</div><div class="sub">arrival to response end</div></div>
    <div class="tile"><div class="label">In flight upstream</div><div class="value" id="t-inflight">–</div><div class="sub" id="t-backends">–</div></div>
    <div class="tile"><div class="label">Cache hit ratio</div><div class="value" id="t-cache">–</div><div class="sub">hits, stale and revalidated of lookups</div></div>
    <div class="tile"><div class="label">Refusals / s</div><div class="value" id="t-refused">–</div><div class="sub" id="t-refused-sub">rate limits 429 · JWT 401/403</div></div>
  </div>
  <section class="panel" id="charts-panel">
    <h2>Last 15 minutes <select id="chart-scope" aria-label="What the charts show"><option value="all">All traffic</option></select><span class="hint" id="chart-hint">sampled by the gateway</span></h2>
    <div class="charts">
      <figure><figcaption>Requests / s</figcaption><svg id="chart-rate" class="chart" viewBox="0 0 300 100" preserveAspectRatio="none" role="img" aria-label="Requests per second"></svg><div class="legend" id="legend-rate"></div></figure>
      <figure><figcaption>4xx and 5xx / s</figcaption><svg id="chart-errors" class="chart" viewBox="0 0 300 100" preserveAspectRatio="none" role="img" aria-label="4xx and 5xx answers per second"></svg><div class="legend" id="legend-errors"></div></figure>
      <figure><figcaption>Latency p50 and p99</figcaption><svg id="chart-latency" class="chart" viewBox="0 0 300 100" preserveAspectRatio="none" role="img" aria-label="p50 and p99 latency"></svg><div class="legend" id="legend-latency"></div></figure>
    </div>
  </section>
  <section class="panel">
    <h2>Routes <span class="hint">checked in order; the first match wins</span></h2>
    <div class="scroll"><table>
      <thead><tr><th>Route</th><th>Split</th><th class="num">Req/s</th><th class="num">Errors</th><th class="num">p99</th><th class="num"></th></tr></thead>
      <tbody id="routes"></tbody>
    </table></div>
  </section>
  <section class="panel hidden" id="canary-panel">
    <h2>Canaries <span class="hint">progressive delivery: both cohorts per step, over the same window, and each step's decision</span></h2>
    <div class="pools" id="canaries"></div>
    <div id="canary-msg" class="msg"></div>
  </section>
  <section class="panel">
    <h2>Pools <span class="hint">health from active checks, circuit from live traffic; p99 to upstream response headers</span></h2>
    <div class="pools" id="pools"></div>
  </section>
  <section class="panel hidden" id="streams-panel">
    <h2>Streams <span class="hint">layer-4 listeners; bytes in from clients, out to clients</span></h2>
    <table>
      <thead><tr><th>Stream</th><th>Listen</th><th>Pool</th><th class="num">Open</th><th class="num">Accepted</th><th class="num">Refused</th><th class="num">Failed</th><th class="num">In</th><th class="num">Out</th></tr></thead>
      <tbody id="streams"></tbody>
    </table>
  </section>
  <div class="cols">
    <section class="panel">
      <h2>Events <span class="hint">health, circuits, reloads, weights and backend states; newest first</span></h2>
      <ul class="events" id="events"></ul>
    </section>
    <section class="panel">
      <h2>Recent reloads <span class="hint">newest first</span></h2>
      <ul class="reloads" id="reloads"></ul>
    </section>
    <section class="panel">
      <h2>Certificates <span class="hint">served by the TLS listener; renew before expiry</span></h2>
      <ul class="reloads" id="certificates"></ul>
    </section>
    <section class="panel">
      <h2>Cache</h2>
      <form id="purge-form" class="inline">
        <select id="purge-kind" aria-label="What to purge">
          <option value="all">Everything</option>
          <option value="prefix">Path prefix</option>
          <option value="tag">Cache-Tag</option>
        </select>
        <input id="purge-value" class="hidden" type="text" placeholder="/api/users" aria-label="Prefix or tag">
        <button id="purge-button" class="danger" type="submit">Purge cache</button>
      </form>
      <div id="purge-msg" class="msg"></div>
    </section>
  </div>
</main>
<dialog id="split-dialog">
  <form id="split-form">
    <h3 id="split-title">Traffic split</h3>
    <div class="body">
      <div class="muted">Weights are relative. The change holds until the next reload.</div>
      <div id="split-rows"></div>
      <div id="split-msg" class="msg"></div>
    </div>
    <div class="actions"><button type="button" id="split-cancel">Cancel</button><button class="primary" id="split-apply" type="submit">Apply</button></div>
  </form>
</dialog>
<dialog id="backend-dialog">
  <form id="backend-form">
    <h3 id="backend-title">Backend</h3>
    <div class="body">
      <div class="muted">drain: no new requests, in-flight ones and sticky sessions finish. Holds across reloads while the backend stays in the configuration.</div>
      <label class="row"><span class="name">State</span><select id="backend-state" aria-label="Backend state"><option value="enabled">enabled</option><option value="drain">drain</option><option value="disabled">disabled</option></select></label>
      <label class="row"><span class="name">Weight</span><input id="backend-weight" type="number" min="0" step="1" aria-label="Backend weight"></label>
      <div id="backend-msg" class="msg"></div>
    </div>
    <div class="actions"><button type="button" id="backend-cancel">Cancel</button><button class="primary" id="backend-apply" type="submit">Apply</button></div>
  </form>
</dialog>
<dialog id="token-dialog">
  <form id="token-form">
    <h3>Admin token</h3>
    <div class="body">
      <div id="token-why" class="muted"></div>
      <input id="token-input" type="password" autocomplete="off" aria-label="Admin token">
      <div id="token-error" class="msg bad" role="alert"></div>
      <div class="muted">Kept in this tab only (sessionStorage).</div>
    </div>
    <div class="actions"><button type="button" id="token-cancel">Cancel</button><button class="primary" id="token-save" type="submit">Save</button></div>
  </form>
</dialog>
<script>${dashboardJs}</script>
<script>${canaryJs}</script>
</body>
</html>
`

export const dashboardCsp = [
  "default-src 'none'",
  `script-src ${sha256(dashboardJs)} ${sha256(canaryJs)}`,
  `style-src ${sha256(dashboardCss)}`,
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ')
