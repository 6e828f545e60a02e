// The one door to node-postgres: every connection to the central database is
// made here, with the same type parsing and timeouts.
//
// - int8 (positions, epoch ms, counts) comes back as a number, not a string:
//   they stay far below 2^53.
// - json comes back as the text it was stored as: events and read-model
//   states are passed on (to reducers, to HTTP responses) and are parsed only
//   where they are read, as on the node.
import pg from 'pg';

const INT8 = 20;
const JSON_OID = 114;
const JSONB = 3802;

const types: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    if (oid === INT8) return (value: string) => Number(value);
    if (oid === JSON_OID || oid === JSONB) return (value: string) => value;
    return pg.types.getTypeParser(oid, format as 'text');
  }) as pg.CustomTypesConfig['getTypeParser'],
};

export type CentreClient = pg.Client;

export type CentreClientOptions = {
  /** Shown in pg_stat_activity, so an operator (or a test) can tell the sessions apart. */
  applicationName: string;
  connectTimeoutMs?: number;
  /** Server-side limit on one statement (default 30 s; 0: none); the client gives up a little later (a dead network never answers). */
  statementTimeoutMs?: number;
};

/** A client for the central database; connect() it, and listen for 'error' (a dropped idle connection). */
export function centreClient(url: string, options: CentreClientOptions): CentreClient {
  const statementTimeoutMs = options.statementTimeoutMs ?? 30_000;
  return new pg.Client({
    connectionString: url,
    types,
    application_name: options.applicationName.slice(0, 63),
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
    // 0 turns both off (a rebuild's statements take as long as the log is long).
    statement_timeout: statementTimeoutMs,
    query_timeout: statementTimeoutMs > 0 ? statementTimeoutMs + 5_000 : undefined,
    keepAlive: true,
  });
}

/** Ends a client whatever state it is in; never throws. */
export async function endQuietly(client: CentreClient | null): Promise<void> {
  if (!client) return;
  try {
    await client.end();
  } catch {
    // already broken: nothing to release
  }
}

/** The URL without its password, for logs, events and the API. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable database URL)';
  }
}

/** A stable code and a message for any error a connection or a statement gave. */
export function describeError(err: unknown): { code: string; message: string } {
  const e = err as { code?: unknown; message?: unknown };
  const code = typeof e?.code === 'string' && e.code ? e.code : 'ERROR';
  const message = typeof e?.message === 'string' && e.message ? e.message : String(err);
  return { code, message };
}

/** Runs `work` in one transaction on `client`: committed if it returns, rolled back if it throws. */
export async function inTransaction<T>(client: CentreClient, work: () => Promise<T>): Promise<T> {
  await client.query('BEGIN');
  try {
    const result = await work();
    await client.query('COMMIT');
    return result;
  } catch (err) {
    try {
      await client.query('ROLLBACK');
    } catch {
      // the connection is gone; the server rolled back already
    }
    throw err;
  }
}

/** A pool of clients for the fleet monitor's reads, with the same type parsing and timeouts as centreClient. */
export function centrePool(url: string, options: CentreClientOptions & { max?: number }): pg.Pool {
  const statementTimeoutMs = options.statementTimeoutMs ?? 30_000;
  return new pg.Pool({
    connectionString: url,
    types,
    application_name: options.applicationName.slice(0, 63),
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
    statement_timeout: statementTimeoutMs,
    query_timeout: statementTimeoutMs > 0 ? statementTimeoutMs + 5_000 : undefined,
    keepAlive: true,
    max: options.max ?? 8,
  });
}
