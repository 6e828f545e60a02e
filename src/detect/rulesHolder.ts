// The rules in force, and reloading them without a restart (SIGHUP, the
// admin route, a change to the file). A file that cannot be read or does
// not validate is refused whole: the rules before it stay, and the outcome
// is recorded either way as `rules.reloaded` on stream `detector:rules`.
import type { Logger } from 'pino';
import type { EventStore } from '../log/store.ts';
import { DEFAULT_RULES, loadRulesFile, rulesDigest, type Rules, type RulesResult } from './rules.ts';

export const RULES_STREAM = 'detector:rules';
export type ReloadTrigger = 'start' | 'signal' | 'admin' | 'watch';

export class RulesHolder {
  private rules: Rules;
  private listeners = new Set<(rules: Rules) => void>();
  loadedAt = Date.now();

  /** Throws nothing: a bad file at start is refused like any reload (see `initial`). */
  constructor(
    readonly path: string | null,
    private readonly log: EventStore | null,
    private readonly logger: Logger,
    initial: Rules = DEFAULT_RULES,
  ) {
    this.rules = initial;
  }

  get current(): Rules {
    return this.rules;
  }

  get digest(): string {
    return rulesDigest(this.rules);
  }

  onChange(listener: (rules: Rules) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Reads the file again; keeps the rules in force when it is refused. Records the outcome. */
  async reload(trigger: ReloadTrigger): Promise<RulesResult> {
    const result: RulesResult = this.path ? loadRulesFile(this.path) : { ok: true, rules: DEFAULT_RULES };
    if (result.ok) {
      this.rules = result.rules;
      this.loadedAt = Date.now();
      for (const listener of this.listeners) listener(this.rules);
      this.logger.info({ path: this.path, trigger }, 'rules loaded');
    } else {
      this.logger.error({ path: this.path, trigger, error: result.error }, 'rules refused; the rules in force stay');
    }
    try {
      await this.log?.append(RULES_STREAM, [
        { type: 'rules.reloaded', data: { ok: result.ok, trigger, path: this.path, digest: this.digest, error: result.ok ? null : result.error.slice(0, 2000) } },
      ]);
    } catch (err) {
      this.logger.warn({ err }, 'could not record the rules reload');
    }
    return result;
  }
}
