/**
 * The dashboard's canary panel (progressive delivery): a second, independent script inlined
 * after the main one. It polls GET /api/canaries and shows, per canary route, the state, the
 * step and both cohorts' error rate and p99 per step with each step's decision, plus the
 * operator's actions (POST /api/canaries/:route/{pause,resume,promote,rollback}). The panel
 * stays hidden while the gateway has no canary.
 *
 * Same rules as script.ts: DOM through createElement and textContent only, no backticks or
 * dollar-brace sequences (it lives inside a TypeScript template).
 */
export const canaryJs = String.raw`
(function () {
  'use strict';
  var TOKEN_KEY = 'switchyard.adminToken';
  var POLL_MS = 1500;
  var timer = null;

  function $(id) { return document.getElementById(id); }
  function h(tag, attrs, children) {
    var el = document.createElement(tag);
    if (attrs) for (var k in attrs) {
      var v = attrs[k];
      if (v === undefined || v === null || v === false) continue;
      if (k === 'text') el.textContent = v;
      else if (k.slice(0, 2) === 'on') el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? '' : String(v));
    }
    (children || []).forEach(function (c) {
      if (c === null || c === undefined || c === false) return;
      el.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
    });
    return el;
  }
  function pct(v) { return v === null || v === undefined ? '\u2013' : (v * 100).toFixed(v > 0 && v < 0.01 ? 2 : 1) + '%'; }
  function ms(v) { return v === null || v === undefined ? '\u2013' : v >= 1000 ? (v / 1000).toFixed(2) + ' s' : v >= 10 ? v.toFixed(0) + ' ms' : v.toFixed(1) + ' ms'; }
  function call(method, path) {
    var headers = { accept: 'application/json' };
    var token = sessionStorage.getItem(TOKEN_KEY) || '';
    if (token) headers.authorization = 'Bearer ' + token;
    return fetch(path, { method: method, headers: headers, cache: 'no-store' }).then(function (res) {
      return res.json().catch(function () { return null; }).then(function (json) { return { ok: res.ok, status: res.status, json: json }; });
    });
  }

  var STATE_CLASS = { progressing: 'warn', paused: 'idle', promoted: 'ok', 'rolled-back': 'bad' };

  // With gates.maxDivergence: the share of shadow answers that differed, of those compared.
  function divergence(d) { return d ? pct(d.rate) + ' of ' + d.compared : '\u2013'; }

  function stepRow(r, current, withDivergence) {
    var result = current
      ? (r.state === 'progressing' ? h('span', { class: 'pill warn', text: 'measuring' }) : h('span', { class: 'pill idle', text: r.state }))
      : r.result === 'passed' ? h('span', { class: 'pill ok', text: 'passed' }) : h('span', { class: 'pill bad', text: 'failed: ' + (r.gate || '') });
    return h('tr', { 'data-step': String(r.step), 'data-result': current ? 'current' : r.result }, [
      h('td', { text: String(r.step) }),
      h('td', { class: 'num', text: r.weight + '%' }),
      h('td', { class: 'num', text: String(r.baseline.requests) + ' / ' + String(r.candidate.requests) }),
      h('td', { class: 'num', text: pct(r.baseline.errorRate) }),
      h('td', { class: 'num', text: pct(r.candidate.errorRate) }),
      h('td', { class: 'num', text: ms(r.baseline.p99Ms) }),
      h('td', { class: 'num', text: ms(r.candidate.p99Ms) }),
      h('td', { class: 'num', text: r.p99Ratio === null || r.p99Ratio === undefined ? '\u2013' : r.p99Ratio.toFixed(2) + '\u00d7' }),
      withDivergence ? h('td', { class: 'num', 'data-divergence': '', text: divergence(r.divergence) }) : null,
      h('td', {}, [result]),
    ]);
  }

  function act(route, action) {
    if ((action === 'promote' || action === 'rollback') && !confirm(action === 'promote' ? 'Send all traffic of ' + route + ' to the candidate?' : 'Send all traffic of ' + route + ' back to the baseline?')) return;
    call('POST', '/api/canaries/' + encodeURIComponent(route) + '/' + action).then(function (res) {
      var m = $('canary-msg');
      m.className = 'msg ' + (res.ok ? 'ok' : 'bad');
      m.textContent = res.ok ? route + ': ' + res.json.state : (res.json && res.json.message) || ('failed: ' + res.status);
      poll();
    });
  }

  function card(c) {
    var withDivergence = c.gates && c.gates.maxDivergence !== undefined;
    var rows = c.history.map(function (r) { return stepRow(r, false, withDivergence); });
    var decided = c.history.length > 0 && c.history[c.history.length - 1].step === c.step && c.state !== 'progressing' && c.state !== 'paused';
    if (!decided) rows.push(stepRow({ step: c.step, weight: c.weight, baseline: c.baseline, candidate: c.candidate, p99Ratio: c.p99Ratio, divergence: c.divergence, state: c.state }, true, withDivergence));
    var last = c.lastDecision;
    var buttons = [];
    if (c.state === 'progressing') buttons.push(h('button', { class: 'small', 'data-action': 'pause', onclick: function () { act(c.route, 'pause'); } }, ['Pause']));
    if (c.state === 'paused') buttons.push(h('button', { class: 'small', 'data-action': 'resume', onclick: function () { act(c.route, 'resume'); } }, ['Resume']));
    if (c.state !== 'promoted') buttons.push(h('button', { class: 'small', 'data-action': 'promote', onclick: function () { act(c.route, 'promote'); } }, ['Promote']));
    if (c.state !== 'rolled-back') buttons.push(h('button', { class: 'small danger', 'data-action': 'rollback', onclick: function () { act(c.route, 'rollback'); } }, ['Roll back']));
    return h('div', { class: 'pool', 'data-canary': c.route, 'data-state': c.state }, [
      h('header', {}, [
        h('span', { class: 'name', text: c.route }),
        h('span', { class: 'pill ' + (STATE_CLASS[c.state] || 'idle'), text: c.state }),
        h('span', { class: 'sub', text: c.baseline.pool + ' \u2192 ' + c.candidate.pool + ' \u00b7 step ' + c.step + ' of ' + c.steps.length + ' \u00b7 candidate ' + c.weight + '%' }),
        h('span', { class: 'right' }, buttons),
      ]),
      h('table', {}, [
        h('thead', {}, [h('tr', {}, ['Step', 'Weight', 'Requests b / c', 'Errors base', 'Errors cand', 'p99 base', 'p99 cand', 'Ratio'].concat(withDivergence ? ['Divergence'] : [], ['Decision']).map(function (t, i, all) { return h('th', { class: i >= 1 && i < all.length - 1 ? 'num' : null, text: t }); }))]),
        h('tbody', {}, rows),
      ]),
      last ? h('div', { class: 'msg muted', 'data-last-decision': last.action, text: 'Last decision: ' + last.action + ' by ' + last.by + (last.reason ? ' \u2014 ' + last.reason : '') + ' (' + new Date(last.time).toLocaleTimeString() + ')' }) : null,
    ]);
  }

  function poll() {
    clearTimeout(timer);
    call('GET', '/api/canaries').then(function (res) {
      var panel = $('canary-panel');
      if (!res.ok || !Array.isArray(res.json) || res.json.length === 0) { panel.classList.add('hidden'); return; }
      panel.classList.remove('hidden');
      var list = $('canaries');
      list.replaceChildren.apply(list, res.json.map(card));
    }, function () { /* the main script reports an unreachable gateway */ }).then(function () { timer = setTimeout(poll, POLL_MS); });
  }

  document.addEventListener('DOMContentLoaded', poll);
})();
`
