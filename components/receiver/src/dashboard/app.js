// linebacker's operator dashboard: reads the receiver's own API every few
// seconds and draws it. No library, nothing loaded from elsewhere. Dead
// letters are read only when the operator asks (their button): listing a
// parking queue takes its messages out and puts them back, which is not
// something to do every few seconds.
'use strict';

const TOKEN_KEY = 'linebacker.token';
const REFRESH_MS = 2000;
const STATUSES = ['Received', 'Allowed', 'NotAllowed', 'Sent', 'Succeeded', 'Failed', 'Cancelled'];
const DEAD_LETTER_QUEUES = ['check-allowed', 'send-to-interface', 'receive-status', 'store-statuses-poison'];
const COLOURS = ['#2b6cb0', '#2f855a', '#b7791f', '#c53030', '#6b46c1', '#319795', '#718096'];
const SVG = 'http://www.w3.org/2000/svg';

const $ = (id) => document.getElementById(id);

class Unauthorized extends Error {}

/// Calls the API with the tab's token; a 401 asks for one. An action
/// (any method but GET) is sent as JSON with the body {}, as the receiver
/// requires of every state-changing request.
async function api(path, options = {}) {
  const headers = Object.assign({ Accept: 'application/json' }, options.headers || {});
  if (options.method && options.method !== 'GET') {
    headers['Content-Type'] = 'application/json';
    options = Object.assign({ body: '{}' }, options);
  }
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(path, Object.assign({}, options, { headers }));
  if (response.status === 401) {
    $('token-form').hidden = false;
    throw new Unauthorized('a bearer token is needed');
  }
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = new Error(`${response.status} ${body.code || ''}: ${body.message || response.statusText}`);
    error.status = response.status;
    throw error;
  }
  return body;
}

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child ?? '')));
  return node;
}

function svg(tag, attributes = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  if (text !== undefined) node.textContent = String(text);
  return node;
}

function fill(tbody, rows) {
  tbody.replaceChildren(...rows);
}

function showError(error) {
  $('error').textContent = error ? String(error.message || error) : '';
}

// The pipeline: one box per status, arrows for the steps between them,
// labelled with the changes per minute of the last sample.
const BOXES = {
  Received: [20, 80], Allowed: [220, 80], Sent: [420, 80], Succeeded: [640, 30], Failed: [640, 130],
  NotAllowed: [220, 160], Cancelled: [420, 160],
};
const FLOWS = [
  ['Received', 'Allowed'], ['Allowed', 'Sent'], ['Sent', 'Succeeded'], ['Sent', 'Failed'],
  ['Received', 'NotAllowed'], ['Allowed', 'Cancelled'], ['Failed', 'Succeeded'],
];

function drawPipeline(byStatus, perMinute) {
  const root = $('pipeline');
  const defs = svg('defs');
  const marker = svg('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 6, markerHeight: 6, orient: 'auto' });
  marker.append(svg('path', { d: 'M0,0 L10,5 L0,10 z', fill: '#6b7280' }));
  defs.append(marker);
  const nodes = [defs];
  for (const [from, to] of FLOWS) {
    const [x1, y1] = BOXES[from];
    const [x2, y2] = BOXES[to];
    const start = [x1 + (x2 > x1 ? 150 : 75), y1 + (y2 > y1 ? 40 : y2 < y1 ? 0 : 20)];
    const end = [x2 + (x2 > x1 ? 0 : 75), y2 + (y2 > y1 ? 0 : y2 < y1 ? 40 : 20)];
    nodes.push(svg('path', { class: 'flow', d: `M${start[0]},${start[1]} L${end[0]},${end[1]}` }));
    const rate = perMinute[to];
    if (rate !== undefined && from !== 'Failed') {
      nodes.push(svg('text', { x: (start[0] + end[0]) / 2, y: (start[1] + end[1]) / 2 - 4, 'text-anchor': 'middle', class: 'muted' }, `${rate}/min`));
    }
  }
  for (const status of STATUSES) {
    const [x, y] = BOXES[status];
    const kind = status === 'Succeeded' ? 'end' : ['Failed', 'NotAllowed', 'Cancelled'].includes(status) ? 'stop' : '';
    nodes.push(svg('rect', { class: `stage ${kind}`, x, y, width: 150, height: 40, rx: 6 }));
    nodes.push(svg('text', { x: x + 8, y: y + 16 }, status));
    nodes.push(svg('text', { x: x + 142, y: y + 32, 'text-anchor': 'end', class: 'count', id: `count-${status}` }, byStatus[status] ?? 0));
  }
  root.replaceChildren(...nodes);
}

function drawQueues(queues) {
  if (!Array.isArray(queues)) {
    fill($('queues').tBodies[0], [el('tr', {}, el('td', { colspan: 5, class: 'error' }, queues?.error ?? 'unavailable'))]);
    return;
  }
  fill($('queues').tBodies[0], queues.map((q) => el('tr', { 'data-queue': q.queue },
    el('td', {}, q.queue), el('td', { class: 'num', 'data-field': 'depth' }, q.depth),
    el('td', { class: 'num', 'data-field': 'consumers' }, q.consumers), el('td', { class: 'num', 'data-field': 'retrying' }, q.retrying),
    el('td', { class: 'num', 'data-field': 'deadLetters' }, q.deadLetters))));
}

function drawProcesses(processes) {
  fill($('processes').tBodies[0], (processes || []).map((p) => {
    const health = p.health || {};
    const state = p.stale ? 'stale' : health.stopping ? 'stopping' : health.ready ? 'ready' : 'not ready';
    const css = state === 'ready' ? 'ok' : state === 'stale' ? 'bad' : 'warn';
    return el('tr', { 'data-process': p.name }, el('td', {}, p.name), el('td', {}, p.host),
      el('td', { class: css }, state), el('td', { class: 'num' }, `${health.uptimeSeconds ?? '?'} s`));
  }));
}

function drawSweep(sweep) {
  $('sweep').textContent = !sweep ? 'no reconciliation sweep yet'
    : sweep.error ? `last sweep: ${sweep.error}`
    : `last sweep ${new Date(sweep.at).toLocaleTimeString()} by ${sweep.by}: ${sweep.reemitted} re-emitted, ${sweep.resent} resent`;
}

/// Each stage's state with the button that flips it (the receiver answers
/// 403 to a caller without the operate scope, shown as the error).
async function drawStages() {
  const { stages } = await api('/api/operator/stages');
  fill($('stages').tBodies[0], (stages || []).map((s) => {
    const paused = s.state === 'paused';
    const button = el('button', { type: 'button', 'data-stage-action': paused ? 'resume' : 'pause' }, paused ? 'Resume' : 'Pause');
    button.addEventListener('click', async () => {
      try {
        await api(`/api/operator/stages/${encodeURIComponent(s.stage)}/${paused ? 'resume' : 'pause'}`, { method: 'POST' });
        await drawStages();
        showError(null);
      } catch (error) {
        showError(error);
      }
    });
    return el('tr', { 'data-stage': s.stage }, el('td', {}, s.stage),
      el('td', { class: paused ? 'warn' : 'ok', 'data-field': 'state' }, s.state),
      el('td', {}, s.pausedBy ?? ''), el('td', {}, s.pausedAt ? new Date(s.pausedAt).toLocaleString() : ''), el('td', {}, button));
  }));
}

async function drawDeadLetters() {
  const counts = await api('/api/operator/dead-letters');
  $('dead-letter-counts').textContent = (counts.queues || [])
    .map((q) => `${q.queue}: ${q.count ?? q.error ?? '?'}`).join(' · ');
  const rows = [];
  for (const queue of DEAD_LETTER_QUEUES) {
    let listed;
    try {
      listed = await api(`/api/operator/dead-letters/${queue}?limit=20`);
    } catch (error) {
      if (error instanceof Unauthorized) throw error;
      rows.push(el('tr', {}, el('td', {}, queue), el('td', { colspan: 5, class: 'error' }, error.message)));
      continue;
    }
    for (const item of listed.items) {
      const replay = el('button', { type: 'button', 'data-replay': item.messageId }, 'Replay');
      replay.addEventListener('click', async () => {
        replay.disabled = true;
        try {
          await api(`/api/operator/dead-letters/${queue}/replay?messageId=${encodeURIComponent(item.messageId)}`, { method: 'POST' });
          await refreshDeadLetters();
        } catch (error) {
          showError(error);
          replay.disabled = false;
        }
      });
      rows.push(el('tr', { 'data-dead-letter': item.messageId }, el('td', {}, queue), el('td', {}, item.backupRequestId ?? ''),
        el('td', {}, item.reason ?? item.lastError ?? ''), el('td', { class: 'num' }, item.attempts ?? ''),
        el('td', {}, item.deadLetteredAt ?? ''), el('td', {}, replay)));
    }
  }
  if (rows.length === 0) rows.push(el('tr', {}, el('td', { colspan: 6, class: 'muted' }, 'no dead letters')));
  fill($('dead-letters').tBodies[0], rows);
  $('dead-letters-updated').textContent = `read ${new Date().toLocaleTimeString()}`;
}

async function refreshDeadLetters() {
  const button = $('dead-letters-refresh');
  button.disabled = true;
  try {
    await drawDeadLetters();
    showError(null);
  } catch (error) {
    showError(error);
  } finally {
    button.disabled = false;
  }
}

/// A line chart of `series` ({name: [values...]}) over `times`.
function drawChart(id, times, series) {
  const root = $(id);
  const [width, height, left, bottom] = [420, 160, 34, 18];
  const names = Object.keys(series);
  const max = Math.max(1, ...names.flatMap((name) => series[name]));
  const x = (i) => left + (times.length <= 1 ? 0 : (i * (width - left - 8)) / (times.length - 1));
  const y = (v) => height - bottom - (v * (height - bottom - 8)) / max;
  const nodes = [
    svg('line', { class: 'axis', x1: left, y1: height - bottom, x2: width, y2: height - bottom }),
    svg('line', { class: 'axis', x1: left, y1: 4, x2: left, y2: height - bottom }),
    svg('text', { x: left - 4, y: 12, 'text-anchor': 'end' }, Math.round(max)),
    svg('text', { x: left - 4, y: height - bottom, 'text-anchor': 'end' }, 0),
  ];
  if (times.length) {
    nodes.push(svg('text', { x: left, y: height - 4 }, times[0].toLocaleTimeString()));
    nodes.push(svg('text', { x: width, y: height - 4, 'text-anchor': 'end' }, times[times.length - 1].toLocaleTimeString()));
  }
  names.forEach((name, n) => {
    const colour = COLOURS[n % COLOURS.length];
    const points = series[name].map((v, i) => `${x(i)},${y(v)}`).join(' ');
    nodes.push(svg('polyline', { class: 'series', stroke: colour, points }));
    // The legend: a swatch of the line's colour beside its name, in that
    // colour (the stylesheet leaves .legend text its fill attribute).
    const [lx, ly] = [left + 6 + (n % 3) * 125, 14 + Math.floor(n / 3) * 14];
    nodes.push(svg('line', { class: 'swatch', x1: lx, y1: ly - 4, x2: lx + 12, y2: ly - 4, stroke: colour, 'data-series': name }));
    nodes.push(svg('text', { x: lx + 16, y: ly, fill: colour, class: 'legend' }, name));
  });
  root.replaceChildren(...nodes);
}

/// Turns the receiver's samples into the three plots, per minute.
function drawCharts(samples) {
  const items = samples.items || [];
  const perMinute = 60 / (samples.intervalSeconds || 10);
  const times = items.map((s) => new Date(s.at));
  const throughput = {};
  for (const status of ['Allowed', 'Sent', 'Succeeded', 'Failed', 'NotAllowed', 'Cancelled']) {
    throughput[status] = items.map((s) => Math.round((s.changes?.[status] ?? 0) * perMinute));
  }
  const queueNames = [...new Set(items.flatMap((s) => (Array.isArray(s.queues) ? s.queues.map((q) => q.queue) : [])))];
  const value = (s, queue, field) => (Array.isArray(s.queues) ? s.queues.find((q) => q.queue === queue)?.[field] ?? 0 : 0);
  const depths = Object.fromEntries(queueNames.map((q) => [q, items.map((s) => value(s, q, 'depth'))]));
  const problems = {
    retrying: items.map((s) => queueNames.reduce((sum, q) => sum + value(s, q, 'retrying'), 0)),
    'new dead letters': items.map((s, i) => {
      if (i === 0) return 0;
      const total = (t) => queueNames.reduce((sum, q) => sum + value(t, q, 'deadLetters'), 0);
      return Math.max(0, total(s) - total(items[i - 1])) * perMinute;
    }),
  };
  drawChart('chart-throughput', times, throughput);
  drawChart('chart-depths', times, depths);
  drawChart('chart-problems', times, problems);
  const last = items[items.length - 1];
  const rates = {};
  if (last && !last.changes?.error) for (const [status, n] of Object.entries(last.changes || {})) rates[status] = Math.round(n * perMinute);
  return rates;
}

// The request table: the newest requests first, optionally of one status,
// a page at a time (the list API's cursor); a row opens its request.
const LIST_LIMIT = 20;
const listing = { status: '', cursors: [null] };

async function drawRequestList() {
  const params = new URLSearchParams({ limit: LIST_LIMIT });
  if (listing.status) params.set('status', listing.status);
  const cursor = listing.cursors[listing.cursors.length - 1];
  if (cursor) params.set('cursor', cursor);
  const page = await api(`/api/backup-requests?${params}`);
  fill($('requests').tBodies[0], page.items.map((r) => {
    const row = el('tr', { 'data-request': r.backupRequestId, class: 'clickable' },
      el('td', {}, r.backupRequestId), el('td', {}, r.backupJobId), el('td', {}, r.dataDate),
      el('td', { 'data-field': 'status' }, r.statusTypeCode), el('td', {}, new Date(r.receivedTimestamp).toLocaleString()));
    row.addEventListener('click', () => openRequest(r.backupRequestId).then(() => showError(null), showError));
    return row;
  }));
  listing.next = page.nextCursor;
  $('requests-older').disabled = !page.nextCursor;
  $('requests-newer').disabled = listing.cursors.length <= 1;
  $('requests-page').textContent = `page ${listing.cursors.length}`;
}

async function turnPage(change) {
  change();
  try {
    await drawRequestList();
    showError(null);
  } catch (error) {
    showError(error);
  }
}

let opened = null;

async function openRequest(id) {
  const [request, history] = await Promise.all([
    api(`/api/backup-requests/${encodeURIComponent(id)}`),
    api(`/api/backup-requests/${encodeURIComponent(id)}/history`),
  ]);
  opened = id;
  $('request').hidden = false;
  $('request-status').textContent = request.statusTypeCode;
  $('cancel').disabled = !['Received', 'Allowed'].includes(request.statusTypeCode);
  const { backup, ...record } = request;
  $('request-record').textContent = JSON.stringify(record, null, 2);
  $('request-backup').textContent = backup ? JSON.stringify(backup, null, 2) : 'none yet';
  fill($('history').tBodies[0], history.items.map((c) => el('tr', { 'data-status': c.status },
    el('td', {}, c.status), el('td', {}, c.at), el('td', {}, c.by), el('td', {}, c.detail ?? ''))));
}

async function refresh() {
  try {
    const [all, samples] = await Promise.all([api('/api/zpages/healthz/all'), api('/api/dashboard/samples')]);
    const rates = drawCharts(samples);
    drawPipeline(all.database?.requests?.byStatus ?? {}, rates);
    drawQueues(all.queues);
    drawProcesses(all.processes);
    drawSweep(all.sweep);
    await drawStages();
    await drawRequestList();
    if (opened) await openRequest(opened);
    $('updated').textContent = `updated ${new Date(all.generatedAt).toLocaleTimeString()}`;
    showError(null);
  } catch (error) {
    showError(error);
  }
}

$('token-form').addEventListener('submit', (event) => {
  event.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $('token').value.trim());
  $('token').value = '';
  $('token-form').hidden = true;
  refresh();
});

$('search').addEventListener('submit', async (event) => {
  event.preventDefault();
  const id = $('search-id').value.trim();
  if (!id) return;
  try {
    await openRequest(id);
    showError(null);
  } catch (error) {
    $('request').hidden = true;
    opened = null;
    showError(error);
  }
});

$('cancel').addEventListener('click', async () => {
  if (!opened) return;
  try {
    await api(`/api/backup-requests/${encodeURIComponent(opened)}/cancel`, { method: 'POST' });
    await openRequest(opened);
    showError(null);
  } catch (error) {
    showError(error);
  }
});

$('dead-letters-refresh').addEventListener('click', refreshDeadLetters);
$('requests-status').addEventListener('change', () => turnPage(() => {
  listing.status = $('requests-status').value;
  listing.cursors = [null];
}));
$('requests-older').addEventListener('click', () => turnPage(() => listing.next && listing.cursors.push(listing.next)));
$('requests-newer').addEventListener('click', () => turnPage(() => listing.cursors.length > 1 && listing.cursors.pop()));
for (const status of STATUSES) $('requests-status').append(el('option', { value: status }, status));

refresh();
setInterval(refresh, REFRESH_MS);
