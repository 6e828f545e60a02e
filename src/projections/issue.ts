// The issue read model: a pure reducer over one issue's events (`issue:<id>`),
// kept inline in the `issues` table like the other read models and rebuilt
// from the log by the same function.
import type { IssueSeverity, IssueType, StoredEvent } from '../log/catalogue.ts';

export const ISSUE_STATUSES = ['open', 'resolved'] as const;
export type IssueStatus = (typeof ISSUE_STATUSES)[number];

export type IssueModel = {
  id: string;
  type: IssueType;
  severity: IssueSeverity;
  status: IssueStatus;
  connection_id: string | null;
  operation_id: string | null;
  task_id: string | null;
  node: string | null;
  message: string;
  value: number | null;
  threshold: number | null;
  /** The worst value seen while it lasted. */
  worst: number | null;
  raised_at: string;
  updated_at: string;
  resolved_at: string | null;
  resolution: string | null;
  duration_ms: number | null;
  updates: number;
  version: number;
  created_position: number;
  last_position: number;
};

const iso = (ms: number) => new Date(ms).toISOString();

/** (state, event) => state for one issue stream; events of other kinds leave it as it is. */
export function reduceIssue(state: IssueModel | null, id: string, event: StoredEvent): IssueModel | null {
  const at = iso(event.recordedAt);
  let m: IssueModel;
  switch (event.type) {
    case 'issue.raised': {
      if (state) return state;
      const d = event.data;
      m = {
        id,
        type: d.type,
        severity: d.severity,
        status: 'open',
        connection_id: d.connection_id,
        operation_id: d.operation_id,
        task_id: d.task_id,
        node: d.node,
        message: d.message,
        value: d.value,
        threshold: d.threshold,
        worst: d.value,
        raised_at: at,
        updated_at: at,
        resolved_at: null,
        resolution: null,
        duration_ms: null,
        updates: 0,
        version: 0,
        created_position: event.position,
        last_position: event.position,
      };
      break;
    }
    case 'issue.updated':
      if (!state) return state;
      m = { ...state, severity: event.data.severity, message: event.data.message, value: event.data.value, worst: event.data.worst, updates: state.updates + 1 };
      break;
    case 'issue.resolved':
      if (!state || state.status === 'resolved') return state;
      m = { ...state, status: 'resolved', resolved_at: at, resolution: event.data.resolution, duration_ms: event.data.duration_ms, worst: event.data.worst };
      break;
    default:
      return state;
  }
  m.updated_at = at;
  m.version = event.version;
  m.last_position = event.position;
  return m;
}
