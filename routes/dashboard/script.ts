/**
 * The dashboard's browser script (inlined into the page). Plain ES2020 for any current
 * browser; DOM built with createElement and textContent only (no innerHTML), so names and URLs
 * from the configuration can never become markup. Polls GET /api/stats, /api/stats/history and
 * /api/events every 1.5 s; the admin token, when one is needed, is asked once and kept in
 * sessionStorage (gone with the tab). While the token dialog is open, polling stops (a poll's
 * 401 must not reset what is being typed), and a token the API refuses is reported as such.
 * Charts are inline SVG polylines drawn from the gateway's history (no library, no build step).
 *
 * Kept free of backticks and dollar-brace sequences: it lives inside a TypeScript template.
 */
export const dashboardJs = String.raw`
(function () {
  'use strict';
  var TOKEN_KEY = 'switchyard.adminToken';
  var POLL_MS = 1500;
  var SERIES = ['--s1', '--s2', '--s3', '--s4', '--s5', '--s6'];
  var last = null;
  var timer = null;
  var editing = null;
  var paused = false;
  var history = null;
  var SVGNS = 'http://www.w3.org/2000/svg';

  function $(id) { return document.getElementById(id); }
  function h(tag, attrs, children) {
    var el = document.createElement(tag);
    if (attrs) for (var k in attrs) {
      var v = attrs[k];
      if (v === undefined || v === null || v === false) continue;
      if (k === 'style') { for (var s in v) el.style.setProperty(s, v[s]); }
      else if (k === 'text') el.textContent = v;
      else if (k.slice(0, 2) === 'on') el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? '' : String(v));
    }
    (children || []).forEach(function (c) {
      if (c === null || c === undefined || c === false) return;
      el.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
    });
    return el;
  }
  function replace(id, nodes) { var el = $(id); el.replaceChildren.apply(el, nodes); }

  function fmtRate(v) { return v === null || v === undefined ? '\u2013' : (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)); }
  function fmtBytes(v) { return v >= 1073741824 ? (v / 1073741824).toFixed(1) + ' GiB' : v >= 1048576 ? (v / 1048576).toFixed(1) + ' MiB' : v >= 1024 ? (v / 1024).toFixed(1) + ' KiB' : v + ' B'; }
  function fmtPct(v) { return v === null || v === undefined ? '\u2013' : (v * 100).toFixed(v > 0 && v < 0.01 ? 2 : 1) + '%'; }
  function fmtMs(v) {
    if (v === null || v === undefined) return '\u2013';
    var ms = v * 1000;
    return ms >= 1000 ? (ms / 1000).toFixed(2) + ' s' : ms >= 10 ? ms.toFixed(0) + ' ms' : ms.toFixed(1) + ' ms';
  }
  function ago(iso) {
    var s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
    return s < 60 ? s + 's ago' : s < 3600 ? Math.round(s / 60) + 'm ago' : Math.round(s / 3600) + 'h ago';
  }

  function token() { return sessionStorage.getItem(TOKEN_KEY) || ''; }
  function api(method, path, body) {
    var headers = { accept: 'application/json' };
    if (token()) headers.authorization = 'Bearer ' + token();
    if (body !== undefined) headers['content-type'] = 'application/json';
    return fetch(path, { method: method, headers: headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store' })
      .then(function (res) {
        return res.text().then(function (text) {
          var json = null;
          try { json = text ? JSON.parse(text) : null; } catch (e) { json = null; }
          if (res.status === 401) askToken(token() ? 'The admin API refused the token of this tab.' : 'The admin API needs a token.', !!token());
          return { status: res.status, ok: res.ok, json: json };
        });
      });
  }
  function askToken(why, refused) {
    var d = $('token-dialog');
    paused = true;
    clearTimeout(timer);
    $('token-why').textContent = why || 'Enter the admin token (admin.token in the configuration).';
    $('token-error').textContent = refused ? 'That token was refused (401).' : '';
    // Only when it opens: what is being typed is never reset.
    if (!d.open) { $('token-input').value = token(); d.showModal(); }
  }
  function resume() { paused = false; poll(); }
  function saveToken(ev) {
    ev.preventDefault();
    var t = $('token-input').value.trim();
    $('token-error').textContent = 'Checking\u2026';
    fetch('/api/stats', { headers: t ? { authorization: 'Bearer ' + t, accept: 'application/json' } : { accept: 'application/json' }, cache: 'no-store' })
      .then(function (res) {
        if (res.status === 401) { $('token-error').textContent = 'That token was refused (401): check admin.token.'; $('token-input').select(); return; }
        sessionStorage.setItem(TOKEN_KEY, t);
        $('token-error').textContent = '';
        $('token-dialog').close();
      }, function () { $('token-error').textContent = 'Cannot reach the admin API.'; });
  }

  // Charts: one polyline per series over the history's time span, scaled to the largest value.
  var CHART_W = 300, CHART_H = 100;
  function drawChart(id, legendId, times, series, fmt) {
    var svg = $(id);
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    var t0 = times.length ? times[0] : 0, t1 = times.length ? times[times.length - 1] : 1;
    var max = 0;
    series.forEach(function (s) { s.values.forEach(function (v) { if (v !== null && v > max) max = v; }); });
    var top = max > 0 ? max * 1.1 : 1;
    var data = {};
    series.forEach(function (s) {
      data[s.name] = s.values;
      var pts = [];
      s.values.forEach(function (v, i) {
        if (v === null) return;
        var x = t1 > t0 ? ((times[i] - t0) / (t1 - t0)) * CHART_W : CHART_W;
        pts.push(x.toFixed(1) + ',' + (CHART_H - (v / top) * CHART_H).toFixed(1));
      });
      var line = document.createElementNS(SVGNS, 'polyline');
      line.setAttribute('points', pts.join(' '));
      line.setAttribute('fill', 'none');
      line.setAttribute('stroke', s.color);
      line.setAttribute('stroke-width', '1.5');
      line.setAttribute('vector-effect', 'non-scaling-stroke');
      line.setAttribute('data-series', s.name);
      svg.appendChild(line);
    });
    svg.setAttribute('data-series', JSON.stringify(data));
    svg.setAttribute('data-max', String(max));
    replace(legendId, series.map(function (s) {
      var lastV = null;
      for (var i = s.values.length - 1; i >= 0 && lastV === null; i--) lastV = s.values[i];
      var sw = h('span', { class: 'sw' });
      sw.style.setProperty('background', s.color);
      return h('span', {}, [sw, s.name + ' ' + fmt(lastV)]);
    }).concat([h('span', { text: 'max ' + fmt(max) })]));
  }
  function renderHistory(hist) {
    history = hist;
    var sel = $('chart-scope');
    var keys = {};
    hist.points.forEach(function (p) { for (var k in p.series) keys[k] = true; });
    var wanted = ['all'].concat(Object.keys(keys).filter(function (k) { return k !== 'all'; }).sort());
    var have = Array.prototype.map.call(sel.options, function (o) { return o.value; });
    if (have.join('\n') !== wanted.join('\n')) {
      var current = sel.value;
      replace('chart-scope', wanted.map(function (k) {
        var label = k === 'all' ? 'All traffic' : k === 'route|-' ? 'route: (unmatched)' : k.replace('|', ': ');
        return h('option', { value: k, text: label });
      }));
      sel.value = wanted.indexOf(current) >= 0 ? current : 'all';
    }
    var key = sel.value || 'all';
    var times = hist.points.map(function (p) { return p.t; });
    var pick = function (f) { return hist.points.map(function (p) { var s = p.series[key]; return s ? s[f] : null; }); };
    drawChart('chart-rate', 'legend-rate', times, [{ name: 'req/s', color: '#2b59c3', values: pick('rate') }], fmtRate);
    drawChart('chart-errors', 'legend-errors', times, [{ name: '4xx/s', color: '#9a6700', values: pick('rate4xx') }, { name: '5xx/s', color: '#b42318', values: pick('rate5xx') }], fmtRate);
    drawChart('chart-latency', 'legend-latency', times, [{ name: 'p50', color: '#1a8f86', values: pick('p50') }, { name: 'p99', color: '#7a4dc9', values: pick('p99') }], fmtMs);
    $('chart-hint').textContent = hist.points.length + ' points, every ' + hist.intervalSeconds + ' s';
    var lastP = hist.points.length ? hist.points[hist.points.length - 1] : null;
    $('t-cache').textContent = lastP ? fmtPct(lastP.cacheHitRatio) : '\u2013';
    $('t-refused').textContent = lastP ? fmtRate((lastP.rateLimited || 0) + (lastP.jwtRefused || 0)) : '\u2013';
    $('t-refused-sub').textContent = lastP ? 'rate limits ' + fmtRate(lastP.rateLimited) + ' \u00b7 JWT ' + fmtRate(lastP.jwtRefused) : 'rate limits 429 \u00b7 JWT 401/403';
  }
  function detailText(d) {
    return Object.keys(d || {}).map(function (k) {
      var v = d[k];
      return k + '=' + (typeof v === 'object' ? JSON.stringify(v) : String(v));
    }).join('  ');
  }
  function renderEvents(list) {
    replace('events', list.length === 0 ? [h('li', { class: 'muted', text: 'No events yet.' })] : list.map(function (e) {
      var bad = /fail|down|open|rejected|removed/.test(JSON.stringify(e.detail || {})) || e.type === 'drain';
      return h('li', { 'data-event-type': e.type }, [
        h('span', { class: 'muted', title: e.time, text: new Date(e.time).toLocaleTimeString() }),
        h('span', { class: 'pill ' + (bad ? 'warn' : 'idle'), text: e.type }),
        h('span', { class: 'detail mono', text: detailText(e.detail) }),
      ]);
    }));
  }
  function reloadConfig() {
    api('POST', '/api/reload').then(function (res) {
      var m = $('reload-msg');
      if (res.status === 401) return;
      m.classList.remove('hidden');
      m.className = res.ok ? 'banner-ok' : 'banner';
      m.textContent = res.ok ? 'Configuration reloaded: v' + res.json.version + '.' : 'Reload rejected; the running configuration keeps serving:\n' + ((res.json && res.json.errors) || []).join('\n');
      poll();
    }, function () { $('reload-msg').className = 'banner'; $('reload-msg').textContent = 'Cannot reach the admin API.'; });
  }

  function setLive(ok, text) {
    var el = $('live');
    el.className = 'live ' + (ok ? 'on' : 'off');
    $('live-text').textContent = text;
  }

  function healthPill(b, pool) {
    if (!pool.healthCheck) return h('span', { class: 'pill idle', title: 'no active health check', text: 'unchecked' });
    var lp = b.lastProbe;
    var title = lp ? 'last probe ' + (lp.ok ? 'ok' : 'failed: ' + lp.error) + (lp.status ? ' (' + lp.status + ')' : '') + ', ' + lp.latencyMs + ' ms, ' + ago(lp.time) : 'not probed yet';
    return b.healthy ? h('span', { class: 'pill ok health', title: title, text: 'healthy' }) : h('span', { class: 'pill bad health', title: title, text: 'down' });
  }
  function circuitPill(state) {
    var cls = state === 'closed' ? 'ok' : state === 'half-open' ? 'warn' : 'bad';
    return h('span', { class: 'pill circuit ' + cls, text: state });
  }

  function splitBar(route, colors) {
    var total = route.split.reduce(function (n, t) { return n + t.weight; }, 0);
    return h('div', { class: 'split', title: route.split.map(function (t) { return t.pool + ': ' + t.weight; }).join(', ') },
      route.split.filter(function (t) { return t.weight > 0; }).map(function (t) {
        var pct = total > 0 ? Math.round((t.weight / total) * 100) : 0;
        return h('span', { style: { 'flex-grow': String(t.weight), background: 'var(' + colors[t.pool] + ')' } }, [t.pool + ' ' + pct + '%']);
      }));
  }

  function matchText(m) {
    var parts = [];
    if (m.path) parts.push(m.path + '*');
    if (m.pathExact) parts.push(m.pathExact);
    if (m.pathRegex) parts.push('~ ' + m.pathRegex);
    if (m.host) parts.push('host ' + m.host);
    if (m.methods) parts.push(m.methods.join(','));
    if (m.headers) parts.push(Object.keys(m.headers).map(function (k) { return k + ':'; }).join(' '));
    return parts.join('  ') || '*';
  }

  function render(s) {
    last = s;
    var colors = {};
    s.pools.forEach(function (p, i) { colors[p.name] = SERIES[i % SERIES.length]; });
    $('version').textContent = 'config v' + s.version;
    $('window').textContent = s.windowSeconds ? 'rates over ' + Math.round(s.windowSeconds) + ' s' : 'collecting rates\u2026';
    $('t-rate').textContent = fmtRate(s.totals.requestRate);
    $('t-err').textContent = fmtPct(s.totals.errorRate);
    $('t-p99').textContent = fmtMs(s.totals.p99);
    $('t-inflight').textContent = String(s.totals.inFlight);
    var backends = 0, up = 0;
    s.pools.forEach(function (p) { p.backends.forEach(function (b) { backends++; if (b.available) up++; }); });
    $('t-backends').textContent = up + ' / ' + backends + ' backends available';

    var unmatched = s.unmatched && s.unmatched.requestRate ? [h('tr', { 'data-route': '-', class: 'unmatched' }, [
      h('td', {}, [h('div', { class: 'name', text: '(unmatched)' }), h('div', { class: 'muted', text: 'no route matched, or refused before routing' })]),
      h('td', { class: 'muted', text: '404 and early refusals' }),
      h('td', { class: 'num', text: fmtRate(s.unmatched.requestRate) }),
      h('td', { class: 'num', text: fmtPct(s.unmatched.errorRate) }),
      h('td', { class: 'num', text: fmtMs(s.unmatched.p99) }),
      h('td', {}),
    ])] : [];
    replace('routes', unmatched.concat(s.routes.map(function (r) {
      return h('tr', { 'data-route': r.name }, [
        h('td', {}, [h('div', { class: 'name', text: r.name }), h('div', { class: 'muted mono', text: matchText(r.match) })]),
        h('td', {}, [splitBar(r, colors), r.sticky ? h('div', { class: 'muted', text: 'sticky ' + r.sticky }) : null]),
        h('td', { class: 'num', text: fmtRate(r.requestRate) }),
        h('td', { class: 'num', text: fmtPct(r.errorRate) }),
        h('td', { class: 'num', text: fmtMs(r.p99) }),
        h('td', { class: 'num' }, [r.split.length > 1 ? h('button', { class: 'small', 'data-edit-route': r.name, onclick: function () { openSplit(r.name); } }, ['Edit split']) : h('span', { class: 'muted', text: 'single pool' })]),
      ]);
    })));

    replace('pools', s.pools.map(function (p) {
      return h('div', { class: 'pool', 'data-pool': p.name }, [
        h('header', {}, [
          h('span', { class: 'pill', style: { background: 'var(' + colors[p.name] + ')', color: '#fff' }, text: p.name }),
          h('span', { class: 'sub', text: p.algorithm + (p.fallback ? ' \u2192 fallback ' + p.fallback : '') }),
          h('span', { class: 'right' }, [
            h('span', { text: fmtRate(p.requestRate) + ' req/s' }),
            h('span', { text: fmtPct(p.errorRate) + ' errors' }),
          ]),
        ]),
        h('table', {}, [
          h('thead', {}, [h('tr', {}, ['Backend', 'Health', 'Circuit', 'In flight', 'Req/s', 'Errors', 'p99', ''].map(function (t, i) { return h('th', { class: i >= 3 ? 'num' : null, text: t }); }))]),
          h('tbody', {}, p.backends.map(function (b) {
            return h('tr', { 'data-backend': b.url, 'data-available': String(b.available) }, [
              h('td', { class: 'mono' }, [b.url, b.weight !== 1 ? h('span', { class: 'weight', title: 'weight', text: '\u00d7' + b.weight }) : null, b.state && b.state !== 'enabled' ? h('span', { class: 'pill idle', title: 'set at run time (PUT /api/pools/:pool/backends/:backend)', text: b.state }) : null]),
              h('td', {}, [healthPill(b, p)]),
              h('td', {}, [circuitPill(b.circuit)]),
              h('td', { class: 'num', text: String(b.activeRequests) }),
              h('td', { class: 'num', text: fmtRate(b.requestRate) }),
              h('td', { class: 'num', text: fmtPct(b.errorRate) }),
              h('td', { class: 'num', text: fmtMs(b.p99) }),
              h('td', { class: 'num' }, [h('button', { class: 'small', 'data-control-backend': b.url, title: 'Drain, disable or re-weight this backend', onclick: function () { openBackend(p.name, b); } }, ['Control'])]),
            ]);
          })),
        ]),
      ]);
    }));

    var streams = s.streams || [];
    $('streams-panel').classList.toggle('hidden', streams.length === 0);
    replace('streams', streams.map(function (st) {
      var sni = st.sni ? Object.keys(st.sni).map(function (n) { return n + ' \u2192 ' + st.sni[n]; }).join(', ') : '';
      return h('tr', { 'data-stream': st.name }, [
        h('td', {}, [h('span', { class: 'name', text: st.name }), ' ', h('span', { class: 'muted', text: st.protocol + (st.configured ? '' : ' (removed, draining)') })]),
        h('td', { class: 'mono', text: st.listen.host + ':' + st.listen.port }),
        h('td', { class: 'mono', text: [sni, st.pool ? (sni ? 'default ' : '') + st.pool : ''].filter(Boolean).join('; ') }),
        h('td', { class: 'num', text: String(st.active) }),
        h('td', { class: 'num', text: String(st.accepted) }),
        h('td', { class: 'num', text: String(st.refused) }),
        h('td', { class: 'num', text: String(st.failed) }),
        h('td', { class: 'num', text: fmtBytes(st.bytesIn) }),
        h('td', { class: 'num', text: fmtBytes(st.bytesOut) }),
      ]);
    }));

    replace('reloads', s.reloads.length === 0 ? [h('li', { class: 'muted', text: 'No reloads yet.' })] : s.reloads.map(function (r) {
      return h('li', {}, [
        r.ok ? h('span', { class: 'pill ok', text: 'applied' }) : h('span', { class: 'pill bad', text: 'rejected' }),
        h('span', { class: 'name', text: 'v' + r.version }),
        h('span', { class: 'muted', title: r.at, text: new Date(r.at).toLocaleTimeString() + ' \u00b7 ' + ago(r.at) }),
        r.problems && r.problems.length ? h('div', { class: 'problems mono', text: r.problems.join('\n') }) : null,
      ]);
    }));
  }

  function renderCertificates(list) {
    replace('certificates', !list || list.length === 0 ? [h('li', { class: 'muted', text: 'No TLS listener.' })] : list.map(function (c) {
      var days = Math.floor((new Date(c.validTo).getTime() - Date.now()) / 86400000);
      return h('li', {}, [
        days < 14 ? h('span', { class: 'pill bad', text: days < 0 ? 'expired' : days + ' d left' }) : h('span', { class: 'pill ok', text: days + ' d left' }),
        h('span', { class: 'name', text: c.subject + (c.acme ? ' (ACME)' : '') }),
        h('span', { class: 'muted', title: c.file, text: 'expires ' + new Date(c.validTo).toLocaleDateString() }),
      ]);
    }));
  }

  function poll() {
    clearTimeout(timer);
    if (paused) return;
    api('GET', '/api/stats').then(function (res) {
      if (res.ok && res.json) {
        render(res.json);
        renderCertificates(res.json.certificates);
        return Promise.all([api('GET', '/api/stats/history'), api('GET', '/api/events?limit=50')]).then(function (more) {
          if (more[0].ok && more[0].json) renderHistory(more[0].json);
          if (more[1].ok && more[1].json) renderEvents(more[1].json);
          return res;
        });
      }
      return res;
    }).then(function (res) {
      if (res.ok && res.json) {
        $('error').classList.add('hidden');
        setLive(true, 'live \u00b7 ' + new Date().toLocaleTimeString());
      } else {
        setLive(false, res.status === 401 ? 'token needed' : 'error ' + res.status);
      }
    }, function () {
      setLive(false, 'gateway unreachable');
      $('error').textContent = 'Cannot reach the admin API; retrying.';
      $('error').classList.remove('hidden');
    }).then(function () { if (!paused) timer = setTimeout(poll, POLL_MS); });
  }

  // Backend control (PUT /api/pools/:pool/backends/:backend) in a dialog: polling re-renders the
  // tables, never the dialog, so a choice being made is not reset.
  var controlling = null;
  function openBackend(pool, b) {
    controlling = { pool: pool, url: b.url };
    $('backend-title').textContent = 'Backend \u00b7 ' + b.url;
    $('backend-state').value = b.state || 'enabled';
    $('backend-weight').value = String(b.weight);
    $('backend-msg').textContent = '';
    $('backend-msg').className = 'msg';
    $('backend-dialog').showModal();
  }
  function applyBackend(ev) {
    ev.preventDefault();
    var body = { state: $('backend-state').value };
    var w = $('backend-weight').value.trim();
    if (w !== '') body.weight = Number(w);
    api('PUT', '/api/pools/' + encodeURIComponent(controlling.pool) + '/backends/' + encodeURIComponent(controlling.url), body).then(function (res) {
      if (res.ok) { $('backend-dialog').close(); poll(); }
      else { $('backend-msg').className = 'msg bad'; $('backend-msg').textContent = (res.json && res.json.message) || ('failed: ' + res.status); }
    });
  }

  function openSplit(name) {
    var route = last && last.routes.find(function (r) { return r.name === name; });
    if (!route) return;
    editing = name;
    $('split-title').textContent = 'Traffic split \u00b7 ' + name;
    $('split-msg').textContent = '';
    $('split-msg').className = 'msg';
    replace('split-rows', route.split.map(function (t) {
      return h('label', { class: 'row' }, [
        h('span', { class: 'name', text: t.pool }),
        h('input', { type: 'number', min: '0', step: '1', value: String(t.weight), 'data-pool': t.pool, required: true }),
      ]);
    }));
    $('split-dialog').showModal();
  }

  function applySplit(ev) {
    ev.preventDefault();
    var weights = {};
    Array.prototype.forEach.call($('split-rows').querySelectorAll('input[data-pool]'), function (i) { weights[i.getAttribute('data-pool')] = Number(i.value); });
    api('PUT', '/api/routes/' + encodeURIComponent(editing) + '/split', { weights: weights }).then(function (res) {
      if (res.ok) { $('split-dialog').close(); poll(); }
      else { $('split-msg').className = 'msg bad'; $('split-msg').textContent = (res.json && res.json.message) || ('failed: ' + res.status); }
    });
  }

  function purge(ev) {
    ev.preventDefault();
    var kind = $('purge-kind').value, value = $('purge-value').value.trim();
    var body = kind === 'all' ? {} : {};
    if (kind !== 'all') { if (!value) { showPurge(false, 'Enter a ' + kind + '.'); return; } body[kind] = value; }
    if (kind === 'all' && !confirm('Purge every cached response?')) return;
    api('POST', '/api/cache/purge', body).then(function (res) {
      if (res.ok && res.json) showPurge(true, 'Purged ' + res.json.purged + ' entr' + (res.json.purged === 1 ? 'y' : 'ies') + '.');
      else if (res.status === 404) showPurge(false, 'Caching is not available on this gateway.');
      else if (res.status !== 401) showPurge(false, (res.json && res.json.message) || ('Purge failed: ' + res.status));
    }, function () { showPurge(false, 'Cannot reach the admin API.'); });
  }
  function showPurge(ok, text) { var m = $('purge-msg'); m.className = 'msg ' + (ok ? 'ok' : 'bad'); m.textContent = text; }

  document.addEventListener('DOMContentLoaded', function () {
    $('split-form').addEventListener('submit', applySplit);
    $('split-cancel').addEventListener('click', function () { $('split-dialog').close(); });
    $('purge-form').addEventListener('submit', purge);
    $('purge-kind').addEventListener('change', function () { $('purge-value').classList.toggle('hidden', $('purge-kind').value === 'all'); $('purge-value').placeholder = $('purge-kind').value === 'tag' ? 'user-7' : '/api/users'; });
    $('token-form').addEventListener('submit', saveToken);
    $('token-cancel').addEventListener('click', function () { $('token-dialog').close(); });
    // Closed by Save (a token the API accepted), Cancel or Escape: polling resumes.
    $('token-dialog').addEventListener('close', resume);
    $('token-button').addEventListener('click', function () { askToken(); });
    $('reload-button').addEventListener('click', reloadConfig);
    $('backend-form').addEventListener('submit', applyBackend);
    $('backend-cancel').addEventListener('click', function () { $('backend-dialog').close(); });
    $('chart-scope').addEventListener('change', function () { if (history) renderHistory(history); });
    poll();
  });
})();
`
