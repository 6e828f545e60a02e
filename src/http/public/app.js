// The dashboard: reads the monitor's read models, and refreshes them whenever
// the live feed says the log moved. Events of the connection being inspected
// are also added to its timeline and chart as they arrive.
import { MONITOR, WEBRTC, getJson, postJson, getToken, setToken } from './api.js';
import { byId, fill, h } from './dom.js';
import { bitrate, bytes, duration, localTime, ms, timeZoneName } from './format.js';
import { followLog } from './live.js';
import { lineChart } from './chart.js';
import { renderIssues, scoreCell } from './issues.js';

const CATEGORIES = ['new', 'connecting', 'connected', 'disconnected', 'failed', 'closed'];
const STATUSES = ['running', 'completed', 'failed', 'cancelled', 'created', 'timed_out'];
const TIMELINE_TYPES = [
  'connection.created',
  'connection.stalled',
  'connection.resumed',
  'connection.state_changed',
  'connection.candidate_pair_selected',
  'connection.track_added',
  'connection.track_removed',
  'connection.datachannel_opened',
  'connection.datachannel_closed',
  'connection.quality_changed',
  'connection.error',
  'connection.closed',
];
/** What the drill-down keeps in the page; older items are dropped. */
const MAX_TIMELINE = 500;
const MAX_SAMPLES = 300;
const STATS_PAGES = 20;

/** Null stays null (unknown), so a chart shows a gap, never a 0. */
const scaled = (v, by = 1) => (v === null || v === undefined ? null : v / by);
const percent = (v) => (v === null || v === undefined ? '—' : `${(v * 100).toFixed(1)} %`);
const time = (iso) => h('time', { datetime: iso ?? '', title: iso ? `${iso} (UTC)` : '' }, localTime(iso));
const badge = (word, known) => h('span', { class: `badge badge-${known.includes(word) ? word : 'other'}` }, word);

// ---- summary cards ---------------------------------------------------------

function renderCards(s) {
  const card = (label, value, extra = '') => h('div', { class: `card ${extra}` }, h('div', { class: 'value' }, String(value)), h('div', { class: 'label' }, label));
  const c = s.connection_states;
  const o = s.operation_stats;
  fill(
    byId('cards'),
    card('connections', c.total),
    card('connected', c.connected, 'ok'),
    card('connecting', c.new + c.connecting),
    card('disconnected', c.disconnected, c.disconnected ? 'warn' : ''),
    card('failed', c.failed, c.failed ? 'bad' : ''),
    card('stalled', s.stalled_connections ?? 0, s.stalled_connections ? 'warn' : ''),
    card('closed', c.closed),
    card('ended failed', s.connection_outcomes?.failed ?? 0, s.connection_outcomes?.failed ? 'bad' : ''),
    card('operations running', o.started),
    card('operations failed', o.failed, o.failed ? 'bad' : ''),
    card('pending tasks', s.pending_tasks, s.abandoned_tasks ? 'warn' : ''),
    card('events', s.event_count),
    // The fleet monitor: how far behind it shows each node.
    ...(s.nodes ?? []).map((n) =>
      card(`${n.node} lag`, `${n.lag_events} · ${n.lag_seconds.toFixed(1)} s`, n.lag_seconds >= 5 ? 'warn' : ''),
    ),
  );
}

// ---- connections -----------------------------------------------------------

let selected = null;

/**
 * The state cell: a connection that ended in failure shows `failed` in red
 * with its reason, never a grey `closed`; a stalled one says so beside its state.
 */
function stateCell(c) {
  if (c.outcome === 'failed') {
    const why = c.failure?.code ?? c.close?.reason ?? '';
    return [badge('failed', CATEGORIES), ' ', h('span', { class: 'reason', title: c.failure?.message ?? '' }, why)];
  }
  const parts = [badge(c.category, CATEGORIES)];
  if (c.outcome && c.outcome !== 'clean') parts.push(' ', h('span', { class: 'reason' }, c.outcome));
  if (c.stalled) parts.push(' ', h('span', { class: 'badge badge-stalled', title: `nothing received since ${c.stalled_since}` }, 'stalled'));
  return parts;
}

function renderConnections(list) {
  const rows = list.map((c) => {
    const stats = c.latest_stats ?? {};
    return h(
      'tr',
      {
        dataset: { id: c.id, category: c.category, outcome: c.outcome ?? '', stalled: String(c.stalled === true) },
        class: [c.id === selected?.id ? 'selected' : '', c.outcome === 'failed' ? 'failed' : ''].filter(Boolean).join(' ') || undefined,
      },
      h(
        'td',
        {},
        // On the fleet monitor, the node it runs on.
        c.node ? [h('span', { class: 'node' }, c.node), ' '] : [],
        h('button', { type: 'button', class: 'link id', title: c.id, onclick: () => openDrilldown(c.id) }, c.id),
      ),
      h('td', { class: 'state' }, stateCell(c)),
      h('td', {}, c.mode ?? '—'),
      h('td', {}, c.content ?? '—'),
      h('td', {}, time(c.created_at)),
      h('td', {}, duration(c.setup_ms)),
      h('td', {}, String(c.track_count + c.data_channel_count)),
      h('td', {}, bytes(stats.bytes_sent)),
      h('td', {}, bytes(stats.bytes_received)),
      h('td', {}, c.category === 'closed' ? '—' : bitrate(stats.bitrate_out_bps)),
      h('td', {}, ms(stats.rtt_ms)),
      h('td', {}, percent(stats.fraction_lost)),
      h('td', { class: 'quality' }, scoreCell(c)),
      // The fleet monitor is read-only: a node closes its own connections.
      h('td', {}, c.category === 'closed' || c.node ? '' : h('button', { type: 'button', class: 'close-one', onclick: () => closeOne(c.id) }, 'Close')),
    );
  });
  fill(byId('connections').tBodies[0], rows);
  byId('connections-empty').hidden = rows.length > 0;
}

// ---- operations and tasks --------------------------------------------------

function renderOperations(items) {
  fill(
    byId('operations').tBodies[0],
    items.map((o) =>
      h(
        'tr',
        { dataset: { id: o.id } },
        h('td', {}, o.type),
        h('td', {}, badge(o.status, STATUSES)),
        h('td', {}, time(o.started_at)),
        h('td', {}, duration(o.duration_ms)),
        h('td', { class: 'id' }, o.connection_id ?? '—'),
        h('td', {}, o.error ? `${o.error.code}: ${o.error.message}` : ''),
      ),
    ),
  );
}

const flattenTasks = (grouped) =>
  Object.values(grouped ?? {})
    .flat()
    .sort((a, b) => b.created_position - a.created_position);

function renderTasks(pending, recent) {
  fill(
    byId('tasks-pending').tBodies[0],
    pending.map((t) =>
      h(
        'tr',
        { dataset: { abandoned: String(t.abandoned === true) } },
        h('td', {}, t.name),
        // Given up on while its work still runs: it holds work, so it is listed here until that work settles.
        h('td', {}, badge(t.status, STATUSES), t.abandoned ? [' ', h('span', { class: 'badge badge-stalled', title: 'its work has not stopped yet' }, 'abandoned')] : ''),
        h('td', { class: 'id' }, t.connection_id ?? '—'),
        h('td', {}, time(t.created_at)),
        h('td', {}, duration(t.timeout_ms)),
      ),
    ),
  );
  fill(
    byId('tasks-recent').tBodies[0],
    recent.map((t) =>
      h(
        'tr',
        {},
        h('td', {}, t.name),
        h('td', {}, badge(t.status, STATUSES)),
        h('td', { class: 'id' }, t.connection_id ?? '—'),
        h('td', {}, time(t.created_at)),
        h('td', {}, duration(t.duration_ms)),
        h('td', {}, t.error ? `${t.error.code}: ${t.error.message}` : ''),
      ),
    ),
  );
}

// ---- refreshing ------------------------------------------------------------

let refreshTimer = null;
let refreshing = null;
let again = false;

/** Coalesces bursts of events into one refresh, at most one in flight. */
function scheduleRefresh(delay = 150) {
  if (refreshing) {
    again = true;
    return;
  }
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => {
    refreshing = refresh()
      .catch((err) => showResult(`refresh failed: ${err.message}`))
      .finally(() => {
        refreshing = null;
        if (again) {
          again = false;
          scheduleRefresh(0);
        }
      });
  }, delay);
}

async function refresh() {
  // Open connections first (all of them, up to 200), then the most recent closed ones,
  // so a long history of closed viewers never pushes a live one off the page.
  const [summary, open, closed, operations, pending, recent, issues] = await Promise.all([
    getJson(`${MONITOR}/summary`),
    getJson(`${MONITOR}/connections?limit=200`),
    getJson(`${MONITOR}/connections?state=closed&limit=20`),
    getJson(`${MONITOR}/operations?status=all&limit=20`),
    getJson(`${MONITOR}/tasks?status=pending&limit=50`),
    getJson(`${MONITOR}/tasks?status=all&limit=20`),
    getJson(`${MONITOR}/issues?limit=50`),
  ]);
  renderCards(summary);
  renderIssues(issues);
  const newestFirst = (page) => Object.values(page.connections).sort((a, b) => b.created_position - a.created_position);
  // One that closed between the two reads is in both: show it closed.
  const closedList = newestFirst(closed);
  const closedIds = new Set(closedList.map((c) => c.id));
  renderConnections([...newestFirst(open).filter((c) => !closedIds.has(c.id)), ...closedList]);
  renderOperations(operations.operations);
  renderTasks(flattenTasks(pending.tasks), flattenTasks(recent.tasks));
  if (selected) await refreshDetails();
  return summary;
}

// ---- drill-down ------------------------------------------------------------

/** The inspected connection: its timeline and samples, and the last position folded into them. */
function emptySelection(id) {
  return { id, timeline: [], samples: [], seen: 0, loading: true, early: [] };
}

async function openDrilldown(id) {
  selected = emptySelection(id);
  const mine = selected;
  byId('drilldown').hidden = false;
  fill(byId('drilldown-id'), id);
  fill(byId('timeline'));
  for (const row of byId('connections').tBodies[0].rows) row.classList.toggle('selected', row.dataset.id === id);
  const stream = encodeURIComponent(`connection:${id}`);
  try {
    const timeline = await getJson(`${MONITOR}/events?stream=${stream}&type=${TIMELINE_TYPES.join(',')}&limit=${MAX_TIMELINE}`);
    let after = 0;
    const samples = [];
    for (let page = 0; page < STATS_PAGES; page++) {
      const got = await getJson(`${MONITOR}/events?stream=${stream}&type=connection.stats_sampled&limit=1000&after=${after}`);
      samples.push(...got.events);
      if (samples.length > MAX_SAMPLES) samples.splice(0, samples.length - MAX_SAMPLES);
      after = got.next_after;
      if (!got.has_more) break;
    }
    if (selected !== mine) return;
    mine.timeline = timeline.events;
    mine.samples = samples;
    mine.seen = Math.max(timeline.next_after, after);
    mine.loading = false;
    // Events that arrived live while the history loaded, minus those it already had.
    for (const event of mine.early) addLive(event);
    mine.early = [];
    renderTimeline();
    renderCharts();
    await refreshDetails();
  } catch (err) {
    showResult(`could not load connection ${id}: ${err.message}`);
  }
}

function addLive(event) {
  if (!selected || event.position <= selected.seen) return;
  selected.seen = event.position;
  if (event.type === 'connection.stats_sampled') {
    selected.samples.push(event);
    if (selected.samples.length > MAX_SAMPLES) selected.samples.shift();
  } else if (TIMELINE_TYPES.includes(event.type)) {
    selected.timeline.push(event);
    if (selected.timeline.length > MAX_TIMELINE) selected.timeline.shift();
  }
}

function describe(event) {
  const d = event.data;
  switch (event.type) {
    case 'connection.created':
      return `created (${[d.mode, d.content, d.quality].filter(Boolean).join(', ') || d.role})`;
    case 'connection.state_changed':
      return `${d.kind}: ${d.from} → ${d.to}`;
    case 'connection.candidate_pair_selected':
      return `candidate pair ${d.local} ⇄ ${d.remote}`;
    case 'connection.track_added':
      return `track added: ${d.kind}${d.codec ? ` (${d.codec})` : ''}`;
    case 'connection.track_removed':
      return `track removed: ${d.kind ?? d.track_id}`;
    case 'connection.datachannel_opened':
      return `data channel "${d.label}" opened`;
    case 'connection.datachannel_closed':
      return `data channel "${d.label}" closed${d.bytes_sent !== undefined ? ` after ${bytes(d.bytes_sent)}` : ''}`;
    case 'connection.quality_changed':
      return `quality ${d.from} → ${d.to}`;
    case 'connection.error':
      return `error ${d.code}: ${d.message}${d.fatal ? ' (fatal)' : ''}`;
    case 'connection.closed':
      return `closed by ${d.initiator}: ${d.reason}`;
    case 'connection.stalled':
      return `stalled: nothing received for ${duration(d.silent_ms)}`;
    case 'connection.resumed':
      return `resumed after ${duration(d.stalled_ms)} (${(d.via ?? []).join(', ')})`;
    default:
      return event.type;
  }
}

function renderTimeline() {
  const items = selected.timeline.map((e) =>
    h('li', { class: `tl tl-${e.type.replace('connection.', '').replace(/[^a-z_]/g, '')}`, dataset: { type: e.type, kind: e.data.kind ?? '' } }, time(e.recorded_at), ' ', h('span', { class: 'what' }, describe(e))),
  );
  fill(byId('timeline'), items);
}

function renderCharts() {
  const points = (pick) => selected.samples.map((e) => ({ t: Date.parse(e.recorded_at), v: pick(e.data) }));
  lineChart(
    byId('chart-bitrate'),
    [
      { name: 'sent', className: 's-out', points: points((d) => scaled(d.bitrate_out_bps, 1000)) },
      { name: 'received', className: 's-in', points: points((d) => scaled(d.bitrate_in_bps, 1000)) },
    ],
    { format: (v) => v.toFixed(0) },
  );
  lineChart(byId('chart-rtt'), [{ name: 'RTT', className: 's-rtt', points: points((d) => scaled(d.rtt_ms)) }], { format: (v) => v.toFixed(1) });
}

async function refreshDetails() {
  const mine = selected;
  const { connection: c, viewers = [], both_ends: ends = null } = await getJson(`${MONITOR}/connections/${encodeURIComponent(mine.id)}?events_limit=1`);
  if (selected !== mine) return;
  const row = (label, ...value) => [h('dt', {}, label), h('dd', {}, ...value)];
  fill(
    byId('drilldown-details'),
    row('state', badge(c.category, CATEGORIES), ` connection ${c.connection_state}, ICE ${c.ice_connection_state}, signaling ${c.signaling_state}`),
    row('stream server', c.server_id ?? '—'),
    row('content', [c.mode, c.content, c.quality].filter(Boolean).join(' · ') || '—'),
    row('remote', c.remote ?? '—', c.user_agent ? ` (${c.user_agent})` : ''),
    row('created', time(c.created_at)),
    row('connected', time(c.connected_at), c.setup_ms !== null ? ` after ${duration(c.setup_ms)}` : ''),
    row('closed', time(c.closed_at), c.close ? ` by ${c.close.initiator}: ${c.close.reason}` : ''),
    row('outcome', c.outcome ? h('span', { class: c.outcome === 'failed' ? 'bad' : '' }, c.outcome) : '—', c.failure ? ` (${c.failure.code}: ${c.failure.message})` : ''),
    row('liveness', c.stalled ? h('span', { class: 'warn' }, `stalled since ${localTime(c.stalled_since)}`) : 'receiving', ` · ${c.stall_count ?? 0} stalls`),
    row('candidate pair', c.selected_pair ? `${c.selected_pair.local} ⇄ ${c.selected_pair.remote}` : '—'),
    row('tracks', c.tracks.map((t) => `${t.kind}${t.codec ? ` ${t.codec}` : ''}`).join(', ') || '—'),
    row('data channels', c.data_channels.map((d) => d.label).join(', ') || '—'),
    row('errors', c.errors.map((e) => `${e.code}: ${e.message}`).join('; ') || '—'),
    row('stats samples', String(c.stats_samples)),
    row('tracks (latest sample)', trackSummary(c.latest_stats)),
    row('both ends', bothEndsSummary(ends, viewers)),
  );
}

/** Server sent X; each viewer (rtcstats telemetry joined to this connection) received Y, lost Z, froze N times. */
function bothEndsSummary(ends, viewers) {
  if (!ends || viewers.length === 0) return 'no viewer telemetry joined';
  const n = (v) => (v === null || v === undefined ? '—' : String(v));
  return h(
    'ul',
    { class: 'tracks' },
    h('li', {}, `server sent ${n(ends.server.packets_sent)} packets, ${n(ends.server.frames_sent)} frames`),
    ends.viewers.map((v, i) => {
      const viewer = viewers[i];
      const video = viewer?.tracks.find((t) => t.kind === 'video');
      return h(
        'li',
        {},
        `viewer (${viewer?.correlated_by ?? '?'}, ${viewer?.samples ?? 0} samples): received ${n(v.packets_received)} packets, lost ${n(v.packets_lost)}, ` +
          `decoded ${n(v.frames_decoded)} frames, froze ${n(v.freeze_count)} times (${ms(v.total_freezes_duration_ms)})` +
          (video ? `, first frame after ${ms(video.time_to_first_frame_ms)}, p95 jitter ${ms(video.p95_jitter_ms)}` : ''),
      );
    }),
  );
}

/** Per-track figures from the latest sample: loss, jitter, RTT, NACK/PLI. */
function trackSummary(stats) {
  const tracks = stats?.tracks ?? [];
  if (tracks.length === 0) return '—';
  return h(
    'ul',
    { class: 'tracks' },
    tracks.map((t) =>
      h('li', {}, `${t.kind} ${t.codec ?? ''}: ${bitrate(t.bitrate_bps)}, lost ${percent(t.fraction_lost)}, jitter ${ms(t.jitter_ms)}, RTT ${ms(t.rtt_ms)}, NACK ${t.nack_count}, PLI ${t.pli_count}`),
    ),
  );
}

// ---- live feed -------------------------------------------------------------

function onEvent(event) {
  // How far the page has followed the log (read by the dashboard test).
  byId('feed-status').dataset.position = String(event.position);
  if (selected && event.stream === `connection:${selected.id}`) {
    if (selected.loading) {
      if (selected.early.length < MAX_TIMELINE) selected.early.push(event);
    } else {
      addLive(event);
      if (event.type === 'connection.stats_sampled') renderCharts();
      else renderTimeline();
    }
  }
  scheduleRefresh();
}

function setFeedStatus(status) {
  const el = byId('feed-status');
  el.className = `feed feed-${status}`;
  fill(el, status === 'live' ? 'live' : status === 'reconnecting' ? 'reconnecting…' : 'offline, retrying');
}

// ---- controls --------------------------------------------------------------

function showResult(text) {
  const out = byId('control-result');
  out.hidden = false;
  out.textContent = text;
}

function report(what, { status, body }) {
  showResult(`${what}: HTTP ${status}\n${JSON.stringify(body, null, 2)}`);
}

async function closeOne(id) {
  report(`close ${id}`, await postJson(`${WEBRTC}/connections/${encodeURIComponent(id)}/close`));
  scheduleRefresh(0);
}

function wireControls() {
  byId('token').value = getToken();
  byId('token-form').addEventListener('submit', (e) => {
    e.preventDefault();
    setToken(byId('token').value.trim());
    showResult(getToken() ? 'token saved for this tab' : 'token cleared');
    // Reads may need it too (a server with a read token): load and follow again with it.
    restartFeed();
    scheduleRefresh(0);
  });
  byId('stream-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const payload = { content: byId('stream-content').value, quality: byId('stream-quality').value, mode: byId('stream-mode').value };
    report('start stream', await postJson(`${WEBRTC}/stream`, payload));
    scheduleRefresh(0);
  });
  // Two clicks, so one stray click cannot drop every viewer.
  let armed = null;
  const button = byId('close-all');
  button.addEventListener('click', async () => {
    if (!armed) {
      button.textContent = 'Click again to close all';
      armed = setTimeout(() => {
        armed = null;
        button.textContent = 'Close all connections';
      }, 3000);
      return;
    }
    clearTimeout(armed);
    armed = null;
    button.textContent = 'Close all connections';
    report('close all', await postJson(`${WEBRTC}/connections/close-all`));
    scheduleRefresh(0);
  });
  byId('drilldown-close').addEventListener('click', () => {
    selected = null;
    byId('drilldown').hidden = true;
    for (const row of byId('connections').tBodies[0].rows) row.classList.remove('selected');
  });
}

// ---- start -----------------------------------------------------------------

let stopFeed = null;

function restartFeed() {
  stopFeed?.();
  stopFeed = followLog(null, { onEvent, onStatus: setFeedStatus, onReset: () => scheduleRefresh(0) });
}

async function start() {
  fill(byId('timezone'), `times in ${timeZoneName()}`);
  wireControls();
  let summary;
  try {
    summary = await refresh();
  } catch (err) {
    showResult(`could not load the monitor: ${err.message}`);
  }
  // Follow from the position the first snapshot showed, so nothing falls between.
  // (The fleet monitor's positions are per node: its feed starts live.)
  stopFeed = followLog(summary?.nodes ? null : (summary?.log_position ?? null), {
    onEvent,
    onStatus: setFeedStatus,
    // The server's log is not the one the page was loaded from: reload the snapshot.
    onReset: () => scheduleRefresh(0),
  });
  // A slow safety net for uptime-like values and for when the feed is down.
  setInterval(() => scheduleRefresh(0), 15_000);
  document.body.dataset.ready = 'true';
}

start();
