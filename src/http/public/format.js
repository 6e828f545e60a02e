// Formatting for people: times in the viewer's own time zone, sizes and rates
// in readable units. The exact UTC time stays in the element's title.
const pad = (n, width = 2) => String(n).padStart(width, '0');

/** "2026-01-31 13:05:09" in the browser's local time zone. */
export function localTime(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '—';
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function timeZoneName() {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'local time';
}

export function duration(ms) {
  if (ms === null || ms === undefined) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

export function bytes(n) {
  if (n === null || n === undefined) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = Number(n);
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

export function bitrate(bps) {
  if (bps === null || bps === undefined) return '—';
  if (bps < 1000) return `${Math.round(bps)} bit/s`;
  if (bps < 1_000_000) return `${(bps / 1000).toFixed(1)} kbit/s`;
  return `${(bps / 1_000_000).toFixed(2)} Mbit/s`;
}

export function ms(v) {
  return v === null || v === undefined ? '—' : `${Math.round(v)} ms`;
}
