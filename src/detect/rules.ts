// The detectors' rules: thresholds, windows, hold times and severities, in
// one validated file (`--rules FILE`, JSON). Every field has a built-in
// default (README "Issues and rules"), so a file names only what it changes;
// an unknown key is refused, so a misspelt threshold is never silently
// ignored. A file that does not parse or validate is refused as a whole with
// a message naming the field, and the rules in force stay.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ISSUE_SEVERITIES } from '../log/catalogue.ts';

const ms = z.number().int().min(0).max(86_400_000);
const severity = z.enum(ISSUE_SEVERITIES);

/** What every detector has: on or off, how bad, and how long its condition must stay clear before the issue resolves. */
const base = (defaults: { severity: z.infer<typeof severity>; hold_ms: number }) => ({
  enabled: z.boolean().default(true),
  severity: severity.default(defaults.severity),
  hold_ms: ms.default(defaults.hold_ms),
});

/** A measured value over a sliding window of stats samples. */
const windowed = (defaults: { severity: z.infer<typeof severity>; hold_ms: number; threshold: number; window_ms: number }) =>
  z
    .object({
      ...base(defaults),
      threshold: z.number().min(0).default(defaults.threshold),
      /** The mean over the samples of this last window is what is compared. */
      window_ms: ms.min(1).default(defaults.window_ms),
      /** Fewer samples than this in the window decide nothing. */
      min_samples: z.number().int().min(1).max(1000).default(2),
    })
    .strict();

export const rulesSchema = z
  .object({
    /** How often the detectors look at the clock when no event arrives (deadlines, hold times). */
    tick_ms: z.number().int().min(10).max(60_000).default(1000),
    /** issue.updated is appended at most this often per issue, and only when something changed. */
    update_interval_ms: ms.default(10_000),
    /** Connections whose windows are kept at once; the oldest are forgotten past it. */
    max_tracked: z.number().int().min(1).max(100_000).default(10_000),
    connection_failed: z.object(base({ severity: 'critical', hold_ms: 30_000 })).strict().prefault({}),
    slow_setup: z
      .object({ ...base({ severity: 'warning', hold_ms: 10_000 }), threshold_ms: ms.min(1).default(5_000) })
      .strict()
      .prefault({}),
    stalled: z.object(base({ severity: 'warning', hold_ms: 5_000 })).strict().prefault({}),
    /** Round-trip time (ms) from the viewers' RTCP receiver reports. */
    high_rtt: windowed({ severity: 'warning', hold_ms: 10_000, threshold: 400, window_ms: 10_000 }).prefault({}),
    /** Interarrival jitter (ms) the viewers report. */
    high_jitter: windowed({ severity: 'warning', hold_ms: 10_000, threshold: 50, window_ms: 10_000 }).prefault({}),
    /** Loss (percent) the viewers report: the worst track's fraction lost. */
    high_loss: windowed({ severity: 'warning', hold_ms: 10_000, threshold: 5, window_ms: 10_000 }).prefault({}),
    /** Outbound bitrate falling below `ratio` x its recent level (only for levels of at least min_baseline_bps). */
    bitrate_collapse: z
      .object({
        ...base({ severity: 'warning', hold_ms: 10_000 }),
        ratio: z.number().gt(0).lt(1).default(0.3),
        min_baseline_bps: z.number().min(0).default(50_000),
        window_ms: ms.min(1).default(10_000),
        min_samples: z.number().int().min(1).max(1000).default(3),
      })
      .strict()
      .prefault({}),
    /** A running operation past its deadline (timeout_ms) plus grace_ms. */
    operation_overdue: z
      .object({ ...base({ severity: 'warning', hold_ms: 0 }), grace_ms: ms.default(1_000) })
      .strict()
      .prefault({}),
    /** A task given up on whose work still runs (until task.settled_late). */
    task_abandoned: z.object(base({ severity: 'warning', hold_ms: 0 })).strict().prefault({}),
    /**
     * The viewer's video frozen (from its own reports, client.stats_sampled joined by
     * client.correlated): its decoded-frame count standing still for threshold_ms, or
     * the freeze time its stack counted within window_ms reaching threshold_ms.
     */
    viewer_freeze: z
      .object({ ...base({ severity: 'warning', hold_ms: 5_000 }), threshold_ms: ms.min(1).default(1_000), window_ms: ms.min(1).default(10_000) })
      .strict()
      .prefault({}),
    /** The viewer's decode frame rate over window_ms below threshold (frames/s), from min_samples reports or more. */
    viewer_low_fps: z
      .object({
        ...base({ severity: 'warning', hold_ms: 10_000 }),
        threshold: z.number().min(0).default(10),
        window_ms: ms.min(1).default(10_000),
        min_samples: z.number().int().min(2).max(1000).default(3),
      })
      .strict()
      .prefault({}),
    /** The fleet forwarder behind or failing (forwarder.* events). */
    forwarder_behind: z.object(base({ severity: 'warning', hold_ms: 5_000 })).strict().prefault({}),
  })
  .strict();

export type Rules = z.output<typeof rulesSchema>;
export type RulesInput = z.input<typeof rulesSchema>;

export const DEFAULT_RULES: Rules = Object.freeze(rulesSchema.parse({})) as Rules;

export const rulesDigest = (rules: Rules) => createHash('sha256').update(JSON.stringify(rules)).digest('hex');

export type RulesResult = { ok: true; rules: Rules } | { ok: false; error: string };

/** Validates rules given as a value (an admin request, tests). */
export function parseRules(value: unknown): RulesResult {
  const parsed = rulesSchema.safeParse(value);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(top level)'}: ${i.message}`);
    return { ok: false, error: problems.join('; ') };
  }
  return { ok: true, rules: parsed.data };
}

/** Reads and validates a rules file; never throws. */
export function loadRulesFile(path: string): RulesResult {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    return { ok: false, error: `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` };
  }
  if (text.length > 1_000_000) return { ok: false, error: `${path} is larger than 1 MB` };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { ok: false, error: `${path} is not valid JSON: ${(err as Error).message}` };
  }
  const result = parseRules(value);
  return result.ok ? result : { ok: false, error: `${path}: ${result.error}` };
}
