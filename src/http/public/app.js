// The dashboard, built for triage: reads the monitor's read models, and
// refreshes them whenever the live feed says the log moved. Failed, stalled
// and healthy connections differ at a glance by a word, a glyph and a colour,
// problems first; the connection list filters by state, outcome and stream,
// sorts, and searches by id; the drill-down shows the timeline newest first
// (errors highlighted, older events a click away) and five charts with the
// events marked on them; the streams panel starts and stops streams and
// links to their player.
import { MONITOR, WEBRTC, getJson, postJson, getToken, setToken } from './api.js';
import { byId, fill, h } from './dom.js';
import { bitrate, bytes, duration, localTime, ms, timeZoneName } from './format.js';
import { followLog } from './live.js';
import { lineChart } from './chart.js';
import { renderIssues, scoreCell } from './issues.js';
import { HEALTH, SORTS, describe, framesPerSecond, healthOf, markers, severity } from './triage.js';

const CATEGORIES = ['new', 'connecting', 'connected', 'disconnected', 'failed', 'closed'];
const STATUSES = ['running', 'completed', 'failed', 'cancelled', 'created', 'timed_out'];
const STREAM_STATES = ['live', 'stopped', 'unknown'];
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
/** Issues the detectors raise are on their own streams (`issue:<id>`); each event names its subject, `connection:<id>`. */
const ISSUE_TYPES = ['issue.raised', 'issue.updated', 'issue.resolved'];
/** Events per timeline page; what the page keeps at most (older ones are a click away). */
const TIMELINE_PAGE = 50;
const MAX_TIMELINE = 500;
const MAX_ISSUES = 200;
const MAX_SAMPLES = 300;
/** Requests one read back through the log may make (each scans a bounded window of positions). */
const READ_BACK_REQUESTS = 5;
/** Streams started from this page whose player links carry their viewer token (answered once, by POST stream). */
const MAX_VIEWER_URLS = 50;

/** Null stays null (unknown), so a chart shows a gap, never a 0. */
const scaled = (v, by = 1) => (v === null || v === undefined ? null : v / by);
const percent = (v) => (v === null || v === undefined ? '—' : `${(v * 100).toFixed(1)} %`);
const time = (iso) => h('time', { datetime: iso ?? '', title: iso ? `${iso} (UTC)` : '' }, localTime(iso));
/** Today's times as the time of day alone (the date is in the title): a full date per row made the table too wide. */
const when = (iso) => {
  const full = localTime(iso);
  const today = localTime(new Date().toISOString()).slice(0, 10);
  return h('time', { datetime: iso ?? '', title: iso ? `${full} (${iso} UTC)` : '' }, full.startsWith(today) ? full.slice(11) : full);
};
const badge = (word, known) => h('span', { class: `badge badge-${known.includes(word) ? word : 'other'}` }, word);
const shortId = (id) => (id.length > 13 ? `${id.slice(0, 8)}…` : id);
/** An id shown truncated with an ellipsis; the whole id in its title. */
const idText = (id) => (id ? h('span', { class: 'id', title: id }, id) : '—');

const healthBadge = (health, title = '') =>
  h('span', { class: `health health-${health}`, title }, h('span', { class: 'glyph', 'aria-hidden': 'true' }, HEALTH[health].glyph), ' ', HEALTH[health].label);

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

// ---- streams ---------------------------------------------------------------

/** Viewer URLs (the stream's viewer token in the fragment) of streams started from this page, oldest dropped first. */
const viewerUrls = new Map();

/**
 * The player page's address. A stream started here: its viewer URL, whose
 * fragment holds the stream's own viewer token. Any other: the page's token
 * in the fragment, which browsers never send to the server (the player asks
 * for one when WHEP refuses it).
 */
function playerHref(id) {
  const known = viewerUrls.get(id);
  if (known) return known;
  const token = getToken();
  return `/player/${encodeURIComponent(id)}${token ? `#token=${encodeURIComponent(token)}` : ''}`;
}

/** `page` is GET streams' answer, or `{ error }` where the server cannot list streams (the fleet monitor). */
function renderStreams(page) {
  const list = page.streams ?? [];
  const rows = list.map((s) => {
    const failed = s.viewer_outcomes?.failed ?? 0;
    const stalled = s.viewers?.stalled ?? 0;
    const problems = [];
    if (failed) problems.push(h('span', { class: 'health health-failed' }, `✖ ${failed} failed`));
    if (stalled) problems.push(' ', h('span', { class: 'health health-stalled' }, `⚠ ${stalled} stalled`));
    const live = s.state === 'live';
    return h(
      'tr',
      { dataset: { id: s.id, state: s.state } },
      h('td', {}, idText(s.id)),
      h('td', { class: 'state' }, badge(s.state, STREAM_STATES), s.stop_reason ? [' ', h('span', { class: 'reason' }, s.stop_reason)] : ''),
      h('td', { class: 'wrap' }, [s.mode, s.content, s.quality].filter(Boolean).join(' · ') || '—'),
      h('td', { class: 'viewers', title: `${s.viewers?.connected ?? 0} connected now, ${s.viewers?.total ?? 0} ever` }, `${s.viewers?.now ?? 0} now / ${s.viewers?.total ?? 0} total`),
      h('td', { class: 'state' }, problems.length ? problems : h('span', { class: 'muted' }, 'none')),
      h('td', { class: 'opt' }, when(s.started_at)),
      h('td', { class: 'opt' }, bytes(s.traffic_total?.bytes_sent)),
      h('td', {}, live && !s.node ? h('a', { class: 'player-link', href: playerHref(s.id), target: '_blank', rel: 'noopener' }, 'Open player') : '—'),
      // The fleet monitor only reads: a node stops its own streams.
      h('td', {}, live && !s.node ? h('button', { type: 'button', class: 'stop-stream', onclick: () => stopStream(s.id) }, 'Stop') : ''),
    );
  });
  fill(byId('streams').tBodies[0], rows);
  const empty = byId('streams-empty');
  empty.hidden = rows.length > 0;
  fill(empty, page.error ? `Streams cannot be listed here: ${page.error}` : 'No streams yet.');
  // The stream filter offers every stream listed (keeping the chosen one).
  const select = byId('conn-filter-stream');
  const chosen = select.value;
  fill(select, h('option', { value: '' }, 'any'), list.map((s) => h('option', { value: s.id, selected: s.id === chosen }, `${shortId(s.id)} (${s.content ?? '?'})`)));
  if (chosen && !list.some((s) => s.id === chosen)) select.append(h('option', { value: chosen, selected: true }, shortId(chosen)));
}

async function stopStream(id) {
  const { status, ok, body } = await postJson(`${WEBRTC}/stream/stop/${encodeURIComponent(id)}`);
  if (ok && status === 200) showResult(`Stopped stream ${shortId(id)}: ${body.closed} viewer${body.closed === 1 ? '' : 's'} closed.`);
  else if (ok) showResult(`Stopping stream ${shortId(id)} (operation ${body.operation_id} still running).`);
  else showProblem(`stop ${shortId(id)}`, status, body);
  scheduleRefresh(0);
}

// ---- connections -----------------------------------------------------------

let selected = null;
let connectionList = [];

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

function renderConnections() {
  const search = byId('conn-search').value.trim().toLowerCase();
  const sort = SORTS[byId('conn-sort').value] ?? SORTS.problems;
  const shown = connectionList.filter((c) => !search || c.id.toLowerCase().includes(search)).sort(sort);
  const rows = shown.map((c) => {
    const stats = c.latest_stats ?? {};
    const health = healthOf(c);
    const ended = c.category === 'closed';
    return h(
      'tr',
      {
        dataset: { id: c.id, category: c.category, outcome: c.outcome ?? '', stalled: String(c.stalled === true), health },
        class: [`row-${health}`, c.id === selected?.id ? 'selected' : '', c.outcome === 'failed' ? 'failed' : ''].filter(Boolean).join(' '),
      },
      h('td', { class: 'health-cell' }, healthBadge(health, c.failure ? `${c.failure.code}: ${c.failure.message}` : '')),
      h(
        'td',
        {},
        // On the fleet monitor, the node it runs on.
        c.node ? [h('span', { class: 'node' }, c.node), ' '] : [],
        h('button', { type: 'button', class: 'link id', title: c.id, onclick: () => openDrilldown(c.id) }, c.id),
      ),
      h('td', { class: 'state' }, stateCell(c)),
      h('td', { class: 'opt' }, c.server_id ? h('span', { class: 'id short', title: c.server_id }, shortId(c.server_id)) : '—'),
      h('td', { class: 'opt wrap' }, [c.mode, c.content].filter(Boolean).join(' · ') || '—'),
      h('td', { class: 'opt' }, when(c.created_at)),
      h('td', { class: 'opt' }, duration(c.setup_ms)),
      h('td', { class: 'opt' }, bytes(stats.bytes_sent)),
      h('td', {}, ended ? '—' : bitrate(stats.bitrate_out_bps)),
      h('td', {}, ended ? '—' : ms(stats.rtt_ms)),
      h('td', {}, ended ? '—' : percent(stats.fraction_lost)),
      h('td', { class: 'quality' }, scoreCell(c)),
      // The fleet monitor is read-only: a node closes its own connections.
      h('td', {}, ended || c.node ? '' : h('button', { type: 'button', class: 'close-one', onclick: () => closeOne(c.id) }, 'Close')),
    );
  });
  fill(byId('connections').tBodies[0], rows);
  byId('connections-empty').hidden = rows.length > 0;
  fill(byId('connections-count'), `(${rows.length} shown)`);
}

/** The monitor queries behind the chosen filters (open and ended connections come from separate pages). */
function connectionQueries() {
  const state = byId('conn-filter-state').value;
  const outcome = byId('conn-filter-outcome').value;
  const stream = byId('conn-filter-stream').value;
  const extra = stream ? `&server_id=${encodeURIComponent(stream)}` : '';
  const q = (params, limit) => `${MONITOR}/connections?${params}${params ? '&' : ''}limit=${limit}${extra}`;
  // An outcome is how an ended connection ended: it implies ended ones.
  if (outcome) return [q(`outcome=${outcome}`, 100)];
  switch (state) {
    case 'open':
      return [q('', 200)];
    case 'problems':
      return [q('state=failed', 100), q('stalled=true', 100), q('outcome=failed', 50)];
    case 'failed':
      return [q('state=failed', 100), q('outcome=failed', 50)];
    case 'stalled':
      return [q('stalled=true', 200)];
    case 'healthy':
      return [q('state=connected&stalled=false', 200)];
    case 'connecting':
      return [q('state=new,connecting', 200)];
    case 'closed':
      return [q('state=closed', 100)];
    default:
      // Open connections first (up to 200), then the most recent ended ones,
      // so a long history of ended viewers never pushes a live one off the page.
      return [q('', 200), q('state=closed', 30)];
  }
}

async function loadConnections() {
  const pages = await Promise.all(connectionQueries().map((path) => getJson(path)));
  // One that changed between two reads is in both: keep the later state.
  const byIdMap = new Map();
  for (const page of pages) {
    for (const c of Object.values(page.connections)) {
      const key = c.node ? `${c.node}/${c.id}` : c.id;
      const had = byIdMap.get(key);
      if (!had || had.last_position < c.last_position) byIdMap.set(key, c);
    }
  }
  return [...byIdMap.values()];
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
        h('td', { class: 'opt' }, when(o.started_at)),
        h('td', {}, duration(o.duration_ms)),
        h('td', { class: 'opt' }, idText(o.connection_id)),
        h('td', { class: 'wrap' }, o.error ? `${o.error.code}: ${o.error.message}` : ''),
      ),
    ),
  );
}

const flattenTasks = (grouped) =>
  Object.values(grouped ?? {})
    .flat()
    .sort((a, b) => b.created_position - a.created_position);

function renderTasks(pending, recent) {
  fill(byId('tasks-count'), `(${pending.length} pending${pending.some((t) => t.abandoned) ? ', some abandoned' : ''})`);
  fill(
    byId('tasks-pending').tBodies[0],
    pending.map((t) =>
      h(
        'tr',
        { dataset: { abandoned: String(t.abandoned === true) } },
        h('td', {}, t.name),
        // Given up on while its work still runs: it holds work, so it is listed here until that work settles.
        h('td', {}, badge(t.status, STATUSES), t.abandoned ? [' ', h('span', { class: 'badge badge-stalled', title: 'its work has not stopped yet' }, 'abandoned')] : ''),
        h('td', { class: 'opt' }, idText(t.connection_id)),
        h('td', {}, when(t.created_at)),
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
        h('td', { class: 'opt' }, idText(t.connection_id)),
        h('td', {}, when(t.created_at)),
        h('td', {}, duration(t.duration_ms)),
        h('td', { class: 'opt wrap' }, t.error ? `${t.error.code}: ${t.error.message}` : ''),
      ),
    ),
  );
}

// ---- refreshing ------------------------------------------------------------

let refreshTimer = null;
let refreshDue = Infinity;
let refreshing = null;
let again = false;

/**
 * Coalesces bursts of events into one refresh, at most one in flight. A
 * refresh already due sooner is kept (a steady stream of events must not
 * push it back for ever); a sooner one replaces it.
 */
function scheduleRefresh(delay = 150) {
  if (refreshing) {
    again = true;
    return;
  }
  const due = Date.now() + delay;
  if (refreshTimer !== null && refreshDue <= due) return;
  clearTimeout(refreshTimer);
  refreshDue = due;
  refreshTimer = setTimeout(() => {
    refreshTimer = null;
    refreshDue = Infinity;
    refreshing = refresh()
      .catch((err) => showResult(`refresh failed: ${err.message}`))
      .finally(() => {
        refreshing = null;
        if (again) {
          again = false;
          scheduleRefresh(250);
        }
      });
  }, delay);
}

async function refresh() {
  const [summary, streams, connections, operations, pending, recent, issues] = await Promise.all([
    getJson(`${MONITOR}/summary`),
    // A server that cannot list streams (the fleet monitor) says why; the rest of the page still loads.
    getJson(`${MONITOR}/streams?limit=50`).catch((err) => ({ error: err.message })),
    loadConnections(),
    getJson(`${MONITOR}/operations?status=all&limit=20`),
    getJson(`${MONITOR}/tasks?status=pending&limit=50`),
    getJson(`${MONITOR}/tasks?status=all&limit=20`),
    getJson(`${MONITOR}/issues?limit=50`),
  ]);
  renderCards(summary);
  renderIssues(issues);
  renderStreams(streams);
  connectionList = connections;
  renderConnections();
  renderOperations(operations.operations);
  renderTasks(flattenTasks(pending.tasks), flattenTasks(recent.tasks));
  if (selected) await refreshDetails();
  return summary;
}

// ---- drill-down ------------------------------------------------------------

/**
 * The inspected connection: its timeline (newest first, `olderBefore` where
 * the next older page starts, null when there is none), the issue events
 * about it, its stats samples, and the last position folded into each.
 */
function emptySelection(id) {
  return { id, timeline: [], olderBefore: null, issues: [], samples: [], seen: { timeline: 0, samples: 0 }, loading: true, early: [] };
}

const connectionStream = (id) => encodeURIComponent(`connection:${id}`);

async function openDrilldown(id) {
  selected = emptySelection(id);
  const mine = selected;
  byId('drilldown').hidden = false;
  fill(byId('drilldown-id'), id);
  fill(byId('timeline'));
  byId('timeline-older').hidden = true;
  for (const row of byId('connections').tBodies[0].rows) row.classList.toggle('selected', row.dataset.id === id);
  const stream = connectionStream(id);
  try {
    // Both read backwards from the head: the newest page of the timeline, and the newest samples.
    const [timeline, samples] = await Promise.all([
      readBack(`${MONITOR}/events?stream=${stream}&type=${TIMELINE_TYPES.join(',')}`, Number.MAX_SAFE_INTEGER, TIMELINE_PAGE),
      readBack(`${MONITOR}/events?stream=${stream}&type=connection.stats_sampled`, Number.MAX_SAFE_INTEGER, MAX_SAMPLES),
    ]);
    if (selected !== mine) return;
    mine.timeline = timeline.events;
    mine.olderBefore = timeline.olderBefore;
    mine.samples = samples.events.slice().reverse();
    // Each read has its own head (they ran side by side): live events past it are new to that read.
    mine.seen = { timeline: timeline.head, samples: samples.head };
    mine.loading = false;
    // Events that arrived live while the history loaded, minus those it already had.
    for (const event of mine.early) {
      if (ISSUE_TYPES.includes(event.type)) addIssue(mine, event);
      else addLive(event);
    }
    mine.early = [];
    renderTimeline();
    renderCharts();
    // The issue events about it come with its details.
    await refreshDetails();
  } catch (err) {
    showResult(`could not load connection ${id}: ${err.message}`);
  }
}

/** Keeps an issue event about the selected connection (once); whether it was new. */
function addIssue(sel, event) {
  if (event.data?.subject !== `connection:${sel.id}`) return false;
  if (sel.issues.some((e) => e.position === event.position)) return false;
  sel.issues.push(event);
  sel.issues.sort((a, b) => a.position - b.position);
  if (sel.issues.length > MAX_ISSUES) sel.issues.shift();
  return true;
}

/**
 * Up to `want` events before `before`, newest first. Each request scans a
 * bounded window of the log, so a connection whose events lie further back
 * takes a few (at most READ_BACK_REQUESTS); `olderBefore` is where the next
 * older page starts, null when the log has nothing older.
 */
async function readBack(path, before, want) {
  const events = [];
  let olderBefore = before;
  let head = 0;
  for (let i = 0; i < READ_BACK_REQUESTS && olderBefore !== null && events.length < want; i++) {
    const page = await getJson(`${path}&before=${olderBefore}&limit=${want - events.length}`);
    // The log's head when the first page was read: everything after it comes by the live feed.
    if (i === 0) head = page.head_position;
    events.push(...page.events);
    olderBefore = page.has_more ? page.next_before : null;
  }
  return { events, olderBefore, head };
}

async function loadOlder() {
  const mine = selected;
  if (!mine || mine.olderBefore === null) return;
  const page = await readBack(`${MONITOR}/events?stream=${connectionStream(mine.id)}&type=${TIMELINE_TYPES.join(',')}`, mine.olderBefore, TIMELINE_PAGE);
  if (selected !== mine) return;
  mine.timeline.push(...page.events);
  mine.olderBefore = page.olderBefore;
  renderTimeline();
  renderCharts();
}

function addLive(event) {
  if (!selected) return;
  const kind = event.type === 'connection.stats_sampled' ? 'samples' : 'timeline';
  if (event.position <= selected.seen[kind]) return;
  selected.seen[kind] = event.position;
  if (kind === 'samples') {
    selected.samples.push(event);
    if (selected.samples.length > MAX_SAMPLES) selected.samples.shift();
  } else if (TIMELINE_TYPES.includes(event.type)) {
    selected.timeline.unshift(event);
    if (selected.timeline.length > MAX_TIMELINE) {
      // Dropped from the page, not from the log: "Older events" reads them again.
      selected.timeline.pop();
      selected.olderBefore = selected.timeline.at(-1).position;
    }
  }
}

function renderTimeline() {
  const oldestShown = selected.timeline.at(-1)?.position ?? 0;
  // Issues interleave by position with the connection's own events loaded so far.
  const issues = selected.issues.filter((e) => selected.olderBefore === null || e.position >= oldestShown);
  const events = [...selected.timeline, ...issues].sort((a, b) => b.position - a.position);
  const items = events.map((e) => {
    const level = severity(e);
    return h(
      'li',
      {
        class: ['tl', `tl-${e.type.replace(/^[a-z]+\./, '').replace(/[^a-z_]/g, '')}`, level ? `tl-${level}` : ''].filter(Boolean).join(' '),
        dataset: { type: e.type, kind: e.data.kind ?? '', position: String(e.position), severity: level },
      },
      time(e.recorded_at),
      ' ',
      level === 'bad' ? h('span', { class: 'flag' }, 'ERROR') : level === 'warn' ? h('span', { class: 'flag warn' }, 'WARN') : '',
      level ? ' ' : '',
      h('span', { class: 'what' }, describe(e)),
    );
  });
  fill(byId('timeline'), items);
  byId('timeline-older').hidden = selected.olderBefore === null;
}

function renderCharts() {
  const samples = selected.samples;
  const points = (pick) => samples.map((e, i) => ({ t: Date.parse(e.recorded_at), v: pick(e.data, i) }));
  const marks = markers([...selected.timeline, ...selected.issues]);
  // One time axis for the five charts, so a marker sits at the same place on each: from the first
  // sample to the last, or on to the last event after it (a failure is often recorded after the last sample).
  const times = samples.map((e) => Date.parse(e.recorded_at));
  const t0 = Math.min(...times);
  const range = times.length ? { t0, t1: Math.max(...times, ...marks.filter((m) => m.t >= t0).map((m) => m.t)) } : null;
  lineChart(
    byId('chart-bitrate'),
    [
      { name: 'sent', className: 's-out', points: points((d) => scaled(d.bitrate_out_bps, 1000)) },
      { name: 'received', className: 's-in', points: points((d) => scaled(d.bitrate_in_bps, 1000)) },
    ],
    { format: (v) => v.toFixed(0), markers: marks, range },
  );
  lineChart(byId('chart-rtt'), [{ name: 'RTT', className: 's-rtt', points: points((d) => scaled(d.rtt_ms)) }], { format: (v) => v.toFixed(1), markers: marks, range });
  lineChart(byId('chart-loss'), [{ name: 'fraction lost', className: 's-loss', points: points((d) => scaled(d.fraction_lost, 0.01)) }], { format: (v) => v.toFixed(1), markers: marks, range });
  lineChart(byId('chart-jitter'), [{ name: 'jitter', className: 's-jitter', points: points((d) => scaled(d.jitter_ms)) }], { format: (v) => v.toFixed(1), markers: marks, range });
  lineChart(byId('chart-fps'), [{ name: 'frames/s', className: 's-fps', points: points((_d, i) => framesPerSecond(samples, i)) }], { format: (v) => v.toFixed(0), markers: marks, range });
}

async function refreshDetails() {
  const mine = selected;
  const detail = await getJson(`${MONITOR}/connections/${encodeURIComponent(mine.id)}?events_limit=1`);
  if (selected !== mine) return;
  const { connection: c, viewers = [], both_ends: ends = null } = detail;
  // The issue events about it (the fleet has none): new ones join the timeline and the charts' markers.
  let newIssues = false;
  for (const e of detail.timeline?.issue_events ?? []) newIssues = addIssue(mine, e) || newIssues;
  if (newIssues && !mine.loading) {
    renderTimeline();
    renderCharts();
  }
  const row = (label, ...value) => [h('dt', {}, label), h('dd', {}, ...value)];
  fill(
    byId('drilldown-details'),
    row('health', healthBadge(healthOf(c))),
    row('state', badge(c.category, CATEGORIES), ` connection ${c.connection_state}, ICE ${c.ice_connection_state}, signaling ${c.signaling_state}`),
    row('stream server', c.server_id ?? '—'),
    row('content', [c.mode, c.content, c.quality].filter(Boolean).join(' · ') || '—'),
    row('remote', c.remote ?? '—', c.user_agent ? ` (${c.user_agent})` : ''),
    row('created', time(c.created_at)),
    row('connected', time(c.connected_at), c.setup_ms !== null ? ` after ${duration(c.setup_ms)}` : ''),
    row('closed', time(c.closed_at), c.close ? ` by ${c.close.initiator}: ${c.close.reason}` : ''),
    row('outcome', c.outcome ? h('span', { class: c.outcome === 'failed' ? 'bad' : '' }, c.outcome) : '—', c.failure ? ` (${c.failure.code}: ${c.failure.message})` : ''),
    row('liveness', c.stalled ? h('span', { class: 'warn' }, `stalled since ${localTime(c.stalled_since)}`) : c.category === 'closed' ? 'ended' : 'receiving', ` · ${c.stall_count ?? 0} stalls`),
    row('quality score', scoreCell(c)),
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
  // How far the page has followed the log (read by the dashboard tests).
  byId('feed-status').dataset.position = String(event.position);
  if (selected && (event.stream === `connection:${selected.id}` || ISSUE_TYPES.includes(event.type))) {
    if (selected.loading) {
      if (selected.early.length < MAX_TIMELINE) selected.early.push(event);
    } else if (ISSUE_TYPES.includes(event.type)) {
      if (addIssue(selected, event)) {
        renderTimeline();
        renderCharts();
      }
    } else {
      addLive(event);
      if (event.type !== 'connection.stats_sampled') renderTimeline();
      renderCharts();
    }
  }
  // A stats sample moves numbers; a state change moves rows. The first can wait a second.
  scheduleRefresh(event.type === 'connection.stats_sampled' ? 1000 : 150);
}

function setFeedStatus(status) {
  const el = byId('feed-status');
  el.className = `feed feed-${status}`;
  fill(el, status === 'live' ? 'live' : status === 'reconnecting' ? 'reconnecting…' : 'offline, retrying');
}

// ---- controls --------------------------------------------------------------

function showResult(...content) {
  const out = byId('control-result');
  out.hidden = false;
  out.classList.remove('bad');
  fill(out, ...content);
}

function showProblem(what, status, body) {
  showResult(`${what} failed: HTTP ${status}${body?.code ? ` ${body.code}` : ''}${body?.detail ? `: ${body.detail}` : ''}`);
  byId('control-result').classList.add('bad');
}

async function closeOne(id) {
  const { status, ok, body } = await postJson(`${WEBRTC}/connections/${encodeURIComponent(id)}/close`);
  if (ok) showResult(`Closed connection ${shortId(id)}.`);
  else showProblem(`close ${shortId(id)}`, status, body);
  scheduleRefresh(0);
}

async function startStream(e) {
  e.preventDefault();
  const payload = { content: byId('stream-content').value, quality: byId('stream-quality').value, mode: byId('stream-mode').value };
  const { status, ok, body } = await postJson(`${WEBRTC}/stream`, payload);
  if (!ok) showProblem('start stream', status, body);
  else {
    const id = body.server_id;
    if (body.viewer_url) {
      viewerUrls.set(id, body.viewer_url);
      if (viewerUrls.size > MAX_VIEWER_URLS) viewerUrls.delete(viewerUrls.keys().next().value);
    }
    showResult(
      `Started stream ${shortId(id)} (${[payload.mode, payload.content, payload.quality].join(' · ')})${status === 202 ? ', still starting' : ''}: `,
      h('a', { id: 'started-player', href: playerHref(id), target: '_blank', rel: 'noopener' }, 'open the player'),
      ' · WHEP endpoint ',
      h('code', { id: 'started-whep' }, body.whep_url),
    );
  }
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
  byId('stream-form').addEventListener('submit', startStream);
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
    const { status, ok, body } = await postJson(`${WEBRTC}/connections/close-all`);
    if (ok) showResult(`Closed ${body.closed} connection${body.closed === 1 ? '' : 's'}.`);
    else showProblem('close all', status, body);
    scheduleRefresh(0);
  });
  byId('drilldown-close').addEventListener('click', () => {
    selected = null;
    byId('drilldown').hidden = true;
    for (const row of byId('connections').tBodies[0].rows) row.classList.remove('selected');
  });
  byId('timeline-older').addEventListener('click', () => loadOlder().catch((err) => showResult(`could not load older events: ${err.message}`)));
  // Search and sort work on what is loaded; the filters ask the server.
  byId('connection-filters').addEventListener('submit', (e) => e.preventDefault());
  byId('conn-search').addEventListener('input', renderConnections);
  byId('conn-sort').addEventListener('change', renderConnections);
  for (const id of ['conn-filter-state', 'conn-filter-outcome', 'conn-filter-stream']) byId(id).addEventListener('change', () => scheduleRefresh(0));
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
