// qfarm dashboard: one page app over the controller's JSON API (/api/<kind>?args), or over the
// same answers embedded in a report file (window.QFARM_DATA). Plain DOM and SVG, no library.
'use strict';

const DATA = window.QFARM_DATA || null;

function showError(message) {
  const box = document.getElementById('qfarm-errors');
  box.textContent += message + '\n';
}
window.addEventListener('error', (e) => showError('error: ' + e.message));
window.addEventListener('unhandledrejection', (e) => showError('error: ' + (e.reason && e.reason.message || e.reason)));

// The key a report stores an answer under: kind?a=1&b=x, arguments in name order.
function apiKey(kind, args) {
  return kind + '?' + Object.keys(args).sort().map((n) => n + '=' + String(args[n])).join('&');
}

async function api(kind, args = {}) {
  if (DATA) {
    const key = apiKey(kind, args);
    if (!(key in DATA.api)) throw new Error('not in this report: ' + key);
    return DATA.api[key];
  }
  const query = new URLSearchParams(args).toString();
  const response = await fetch('/api/' + kind + (query ? '?' + query : ''));
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

// h('a', {href: '#/'}, 'text', child, ...): an element; text is never parsed as HTML.
function h(tag, attrs = {}, ...children) {
  const svg = ['svg', 'path', 'circle', 'line', 'rect', 'text', 'polygon', 'g', 'title'].includes(tag);
  const el = svg ? document.createElementNS('http://www.w3.org/2000/svg', tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) el.setAttribute(k, v);
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function fmt(v, digits = 4) {
  if (v === null || v === undefined) return '–';
  if (typeof v === 'number' && !Number.isInteger(v)) return Number(v.toPrecision(digits)).toString();
  return String(v);
}

function route(path, args) {
  const q = new URLSearchParams(args).toString();
  return '#/' + path + (q ? '?' + q : '');
}

function historyLink(model, deviceId, profile, text) {
  return h('a', {href: route('history', {model: model, device: deviceId, profile: profile})}, text || 'history');
}

function table(headers, rows) {
  return h('table', {}, h('tr', {}, headers.map((x) => h('th', {}, x))), rows.map((r) => h('tr', {}, r.map((c) =>
    c instanceof Node && c.tagName === 'TD' ? c : h('td', {}, c)))));
}

function verdict(r) {
  if (r.state === 'failed') return 'failed';
  if (r.state !== 'done') return 'pending';
  return r.status === 'ok' ? 'ok' : 'divergent';
}

// A line chart: points [{x, y, lo, hi, mark, label}]; lo/hi draw a band, mark a red dot.
function lineChart(title, points, unit) {
  const W = 520, H = 180, L = 56, R = 10, T = 22, B = 24;
  const ys = points.flatMap((p) => [p.y, p.lo, p.hi]).filter((v) => typeof v === 'number' && isFinite(v));
  const svg = h('svg', {class: 'chart', width: W, height: H, viewBox: `0 0 ${W} ${H}`, 'data-chart': title},
    h('text', {x: L, y: 14}, title + (unit ? ' (' + unit + ')' : '')));
  svg.append(h('line', {class: 'axis', x1: L, y1: H - B, x2: W - R, y2: H - B}), h('line', {class: 'axis', x1: L, y1: T, x2: L, y2: H - B}));
  if (!ys.length) {
    svg.append(h('text', {x: L + 10, y: H / 2}, 'no data'));
    return svg;
  }
  let lo = Math.min(...ys), hi = Math.max(...ys);
  if (hi === lo) { hi += Math.abs(hi) * 0.05 + 1e-9; lo -= Math.abs(lo) * 0.05 + 1e-9; }
  const n = points.length;
  const X = (i) => L + (n === 1 ? (W - L - R) / 2 : i * (W - L - R) / (n - 1));
  const Y = (v) => H - B - (v - lo) / (hi - lo) * (H - T - B);
  svg.append(h('text', {x: 4, y: T + 4}, fmt(hi)), h('text', {x: 4, y: H - B}, fmt(lo)));
  const band = points.map((p, i) => [i, p]).filter(([, p]) => typeof p.lo === 'number' && typeof p.hi === 'number');
  if (band.length > 1) {
    const upper = band.map(([i, p]) => `${X(i)},${Y(p.hi)}`), lower = band.reverse().map(([i, p]) => `${X(i)},${Y(p.lo)}`);
    svg.append(h('polygon', {class: 'band', points: upper.concat(lower).join(' ')}));
  }
  const drawn = points.map((p, i) => [i, p]).filter(([, p]) => typeof p.y === 'number' && isFinite(p.y));
  if (drawn.length) {
    svg.append(h('path', {class: 'line', d: drawn.map(([i, p], k) => (k ? 'L' : 'M') + X(i) + ' ' + Y(p.y)).join(' ')}));
  }
  for (const [i, p] of drawn) {
    svg.append(h('circle', {class: p.mark ? 'mark' : 'bar', cx: X(i), cy: Y(p.y), r: p.mark ? 5 : 2.5},
      h('title', {}, (p.label || '') + ' ' + fmt(p.y))));
  }
  return svg;
}

// A bar chart of {label: count}.
function barChart(title, counts) {
  const W = 520, H = 170, L = 40, B = 30, T = 22;
  const keys = Object.keys(counts).sort((a, b) => Number(a) - Number(b));
  const max = Math.max(1, ...keys.map((k) => counts[k]));
  const svg = h('svg', {class: 'chart', width: W, height: H, viewBox: `0 0 ${W} ${H}`, 'data-chart': title},
    h('text', {x: L, y: 14}, title), h('line', {class: 'axis', x1: L, y1: H - B, x2: W - 6, y2: H - B}));
  const bw = keys.length ? (W - L - 10) / keys.length : 0;
  keys.forEach((k, i) => {
    const bh = counts[k] / max * (H - T - B);
    svg.append(h('rect', {class: 'bar', x: L + i * bw + 1, y: H - B - bh, width: Math.max(1, bw - 2), height: bh},
      h('title', {}, k + ': ' + counts[k])));
    if (keys.length <= 24) svg.append(h('text', {x: L + i * bw + 2, y: H - B + 12}, k));
  });
  if (!keys.length) svg.append(h('text', {x: L + 10, y: H / 2}, 'no data'));
  return svg;
}

function histogramOf(samples, bins) {
  const counts = {};
  if (!samples.length) return counts;
  const lo = Math.min(...samples), hi = Math.max(...samples), w = (hi - lo) / bins || 1;
  for (let b = 0; b < bins; b++) counts[fmt(lo + b * w, 3)] = 0;
  for (const s of samples) counts[fmt(lo + Math.min(bins - 1, Math.floor((s - lo) / w)) * w, 3)] += 1;
  return counts;
}

async function runsPage() {
  const runs = await api('runs', {limit: 50});
  return [h('h1', {}, 'Runs'), table(['run', 'name', 'state', 'jobs', 'done', 'divergent', 'failed', 'pending'],
    runs.map((r) => [h('a', {href: route('run/' + r.run, {})}, 'run ' + r.run), r.name, r.state, r.jobs, r.done,
      fmt(r.divergent), r.failed, r.pending]))];
}

function matrixCell(r) {
  const v = verdict(r);
  const text = v === 'ok' ? 'bit-exact' : v === 'divergent'
    ? `max |Δ| ${fmt(r.max_abs_delta_lsb)} LSB, ${fmt(100 * r.mismatches / Math.max(1, r.elements), 3)}%`
    : v === 'failed' ? 'infrastructure failure' : r.state;
  const p50 = r.p50_ms === null || r.p50_ms === undefined ? '' : ` · p50 ${fmt(r.p50_ms)} ms`;
  return h('a', {class: 'cell ' + v, href: route('job/' + r.job, {}), title: r.profile_text || r.profile},
    `${r.profile}: ${text}${p50}`);
}

async function runPage(id) {
  const [run, results, regressions] = await Promise.all([api('run', {run: id}), api('results', {run: id}),
    api('regressions', {run: id})]);
  const models = [...new Set(results.map((r) => r.model))], devices = [...new Set(results.map((r) => r.device))];
  const rows = models.map((m) => h('tr', {}, h('th', {}, m), devices.map((d) =>
    h('td', {}, results.filter((r) => r.model === m && r.device === d).map(matrixCell)))));
  const flagged = regressions.filter((r) => r.latency !== 'none' && r.latency !== 'insufficient-data' ||
    r.divergence !== 'none' && r.divergence !== 'insufficient-data');
  return [h('h1', {}, `Run ${run.run}: ${run.name} (${run.state})`),
    h('p', {class: 'muted'}, `${run.jobs} jobs, ${run.done} done, ${fmt(run.divergent)} divergent, ${run.failed} failed`),
    h('table', {class: 'matrix'}, h('tr', {}, h('th', {}, 'model \\ device'), devices.map((d) => h('th', {}, d))), rows),
    h('h2', {}, 'Regressions against earlier runs'),
    flagged.length ? table(['job', 'model', 'device', 'latency', 'divergence', 'why', ''], flagged.map((r) => [
      h('a', {href: route('job/' + r.job, {})}, String(r.job)), r.model, r.device_id,
      h('span', {class: r.latency}, r.latency), h('span', {class: r.divergence}, r.divergence),
      [r.divergence_reason, r.latency_reason].filter((x) => x).join('; '),
      historyLink(r.model, r.device_id, r.profile_text)]))
      : h('p', {class: 'muted'}, 'none: every result is in line with the runs before it (or has no history yet)')];
}

function metricsTable(list, firstNode) {
  return table(['value', 'node', 'elements', 'mismatches', 'max |Δ| LSB', 'mean |Δ|', 'ties only', 'SQNR dB', 'cosine'],
    list.map((m) => {
      const row = [m.value, m.node, m.elements, m.mismatches, m.max_abs_delta_lsb, fmt(m.mean_abs_delta_lsb),
        m.bit_exact ? '–' : (m.ties_only ? 'yes' : 'no'), fmt(m.sqnr_db), fmt(m.cosine, 6)];
      return firstNode && m.node === firstNode ? row.map((c) => h('td', {class: 'first'}, c)) : row;
    }));
}

async function jobPage(id) {
  const j = await api('job', {job: id});
  const out = [h('h1', {}, `Job ${j.job}: ${j.model} on ${j.device}`),
    table(['run', 'state', 'result', 'profile', 'attempt', 'device id'], [[
      h('a', {href: route('run/' + j.run, {})}, 'run ' + j.run), j.state, verdict(j), j.profile_text || j.profile,
      `${j.attempt} of ${j.max_attempts}`, fmt(j.device_id)]])];
  if (j.error) out.push(h('p', {class: 'regression'}, j.error));
  if (j.result === null || j.result === undefined) return out;
  out.push(h('p', {}, historyLink(j.model, j.device_id, j.profile_text, 'history of this model on this device')));
  if (j.first_diverging_node) {
    out.push(h('h2', {}, 'First diverging node'), h('p', {}, `${j.first_diverging_node} — ` +
      (j.first_isolated ? 'diverges on its own (isolated)' : 'inherits upstream error') + '. ' + (j.attribution || '')));
  }
  out.push(h('h2', {}, 'Outputs'), metricsTable(j.outputs, null));
  for (const o of j.outputs) out.push(barChart(`Δ histogram of ${o.value} (LSB)`, JSON.parse(o.histogram || '{}')));
  out.push(h('h2', {}, 'Layers'), metricsTable(j.layers, j.first_diverging_node));
  if (j.latency) {
    const l = j.latency;
    out.push(h('h2', {}, 'Latency' + (l.comparable ? '' : ' (emulated: not comparable to hardware)')),
      table(['cold', 'min', 'p50', 'p90', 'p99', 'mean', 'stddev', 'CV', 'runs'],
        [[l.cold_ms, l.min_ms, l.p50_ms, l.p90_ms, l.p99_ms, l.mean_ms, l.stddev_ms, l.cv, l.samples].map((v) => fmt(v))]),
      barChart('latency distribution (ms)', histogramOf(j.latency_samples_ms, 20)));
  }
  const fp = j.device_fingerprint || {};
  out.push(h('h2', {}, 'Reproducibility fingerprint'), table(['field', 'value'], [
    ['model sha256', j.model_sha256], ['inputs sha256', j.inputs_sha256], ['kernels build', j.kernels_build_id],
    ['agent', j.agent_version], ['outputs sha256', j.output_sha256]].concat(Object.entries(fp).map(([k, v]) =>
    ['device ' + k, Array.isArray(v) ? v.join(' ') : String(v)]))));
  return out;
}

async function historyPage(args) {
  const s = await api('series', args);
  const pts = s.points;
  const lat = pts.map((p) => ({y: p.p50_ms, lo: p.min_ms, hi: p.p90_ms, mark: p.verdict.latency === 'regression', label: 'run ' + p.run}));
  const rate = pts.map((p) => ({y: p.elements ? p.mismatches / p.elements : null, mark: p.verdict.divergence === 'regression', label: 'run ' + p.run}));
  const sqnr = pts.map((p) => ({y: p.sqnr_db, mark: p.verdict.divergence === 'regression', label: 'run ' + p.run}));
  return [h('h1', {}, `History: ${s.model} on ${s.device_id}`), h('p', {class: 'muted'}, `profile ${s.profile}`),
    lineChart('latency p50 (band: min to p90)', lat, 'ms'), lineChart('mismatch rate', rate, ''),
    lineChart('SQNR vs real-valued reference', sqnr, 'dB'),
    table(['run', 'job', 'status', 'p50 ms', 'mismatches', 'SQNR dB', 'latency', 'divergence', 'why'], pts.map((p) => [
      h('a', {href: route('run/' + p.run, {})}, 'run ' + p.run), h('a', {href: route('job/' + p.job, {})}, String(p.job)),
      p.status, fmt(p.p50_ms), p.mismatches, fmt(p.sqnr_db), h('span', {class: p.verdict.latency}, p.verdict.latency),
      h('span', {class: p.verdict.divergence}, p.verdict.divergence),
      [p.verdict.divergence_reason, p.verdict.latency_reason].filter((x) => x).join('; ')]))];
}

async function devicesPage() {
  const [devices, events] = await Promise.all([api('devices', {}), api('events', {limit: 200})]);
  return [h('h1', {}, 'Devices'), table(['device', 'declared profile', 'health', 'online', 'fingerprint', 'arithmetic (consistent values per key)', 'tags'],
    devices.map((d) => [d.id, d.declared_profile, h('span', {class: d.health === 'healthy' ? 'improvement' : 'regression'}, d.health),
      d.online ? 'online' : 'offline', String(d.fingerprint_sha256).slice(0, 12),
      d.arith_fingerprint ? d.arith_fingerprint.split(';').join('; ') : '–', d.tags])),
    h('h2', {}, 'Events'), table(['time', 'event', 'device', 'run', 'job', 'message'], events.map((e) => [
      new Date(e.at * 1000).toISOString(), h('span', {class: e.kind.endsWith('fingerprint-changed') || e.kind.endsWith('failed') ? 'regression' : ''}, e.kind),
      fmt(e.device_id), e.run_id ? h('a', {href: route('run/' + e.run_id, {})}, 'run ' + e.run_id) : '–',
      e.job_id ? h('a', {href: route('job/' + e.job_id, {})}, String(e.job_id)) : '–', e.message]))];
}

async function render() {
  const hash = location.hash || (DATA && DATA.start) || '#/';
  const [path, query] = hash.slice(2).split('?');
  const args = Object.fromEntries(new URLSearchParams(query || ''));
  const parts = path.split('/');
  const app = document.getElementById('app');
  document.body.dataset.ready = '0';
  let content;
  try {
    if (parts[0] === 'run') content = await runPage(Number(parts[1]));
    else if (parts[0] === 'job') content = await jobPage(Number(parts[1]));
    else if (parts[0] === 'history') content = await historyPage(args);
    else if (parts[0] === 'devices') content = await devicesPage();
    else content = await runsPage();
  } catch (e) {
    content = [h('h1', {}, 'Error'), h('p', {class: 'regression', id: 'page-error'}, e.message)];
  }
  app.replaceChildren(...[content].flat());
  document.body.dataset.ready = '1';
}

window.addEventListener('hashchange', render);
render();
