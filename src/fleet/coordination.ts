// How the processes around the central database coordinate, in PostgreSQL
// itself: session advisory locks and one notification channel.
//
// Advisory lock keys share one bigint space with every other application on
// the database; these two are ours ("wrm" and a number).

/** Held while migrations run, so nodes and fleet processes starting together migrate once. */
export const MIGRATION_LOCK = 0x77726d01;

/** Held by the one process that projects (and by `fleet rebuild`); released when its session ends. */
export const PROJECTOR_LOCK = 0x77726d02;

/**
 * Notified (payload: the node) in the same statement that inserts a
 * forwarded batch, and (payload: PROJECTED_PREFIX + the node) by the
 * projector in each page's transaction. Both are delivered on commit.
 */
export const EVENTS_CHANNEL = 'webrtc_monitor_events';
export const PROJECTED_PREFIX = 'projected:';
