// Reading GET /metrics in tests: a strict parser for the Prometheus text
// format and lookups by family, labels and sample name.
import type { TestServer } from './server.ts';

export type Sample = { name: string; labels: Record<string, string>; value: number };
export type Family = { name: string; type: string; help: string; samples: Sample[] };

/** A parser for the Prometheus text format 0.0.4, strict enough to catch malformed output. */
export function parseExposition(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const family = (name: string) => {
    let f = families.get(name);
    if (!f) families.set(name, (f = { name, type: 'untyped', help: '', samples: [] }));
    return f;
  };
  const owner = (sample: string) => {
    for (const suffix of ['_bucket', '_sum', '_count', '']) {
      const base = suffix ? sample.slice(0, -suffix.length) : sample;
      if (sample.endsWith(suffix) && families.has(base) && (suffix === '' || ['histogram', 'summary'].includes(families.get(base)!.type))) {
        return families.get(base)!;
      }
    }
    throw new Error(`sample ${sample} has no # TYPE line before it`);
  };
  for (const line of text.split('\n')) {
    if (line === '') continue;
    let m = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (m) {
      family(m[1]).help = m[2];
      continue;
    }
    m = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (m) {
      family(m[1]).type = m[2];
      continue;
    }
    m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (-?[0-9.e+-]+|[Nn]a[Nn]|\+Inf|-Inf)$/.exec(line);
    if (!m) throw new Error(`not an exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1]] = pair[2];
    // Prometheus reads values with Go's ParseFloat, which takes NaN in any case (prom-client writes "Nan").
    const v = /^nan$/i.test(m[3]) ? NaN : Number(m[3].replace('Inf', 'Infinity'));
    owner(m[1]).samples.push({ name: m[1], labels, value: v });
  }
  return families;
}

/** GET /metrics, checked for status and content type, parsed. */
export async function scrape(server: Pick<TestServer, 'api'>): Promise<Map<string, Family>> {
  const res = await server.api('/metrics');
  if (res.status !== 200) throw new Error(`GET /metrics answered ${res.status}`);
  const type = res.headers.get('content-type') ?? '';
  if (!/^text\/plain; version=0\.0\.4/.test(type)) throw new Error(`GET /metrics content type ${type}`);
  return parseExposition(await res.text());
}

export function value(families: Map<string, Family>, name: string, labels: Record<string, string> = {}, sampleName = name): number {
  const f = families.get(name);
  if (!f) throw new Error(`no family ${name}`);
  const s = f.samples.find((x) => x.name === sampleName && Object.entries(labels).every(([k, v]) => x.labels[k] === v) && Object.keys(x.labels).length >= Object.keys(labels).length);
  if (!s) throw new Error(`no sample ${sampleName} ${JSON.stringify(labels)}`);
  return s.value;
}
