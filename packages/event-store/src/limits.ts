/** Named bounds of the event store. Every adapter enforces the same ones. */

/** Bytes of one event's data plus metadata as UTF-8 JSON. Calls and CDRs are a few KB. */
export const EVENT_SIZE_BYTES_MAX = 256 * 1024;
/** Events in one append. Batched writers split larger groups. */
export const APPEND_EVENTS_MAX = 5_000;
/** Streams in one group-commit append (`appendToStreams`); larger groups are split into several commits. */
export const APPEND_STREAMS_MAX = 1_000;
/** Events in one group-commit append, all streams together. */
export const APPEND_GROUP_EVENTS_MAX = 10_000;
/** Characters in a stream id (`account-<uuid>` is 44). */
export const STREAM_NAME_LENGTH_MAX = 200;
/** Characters in an event type. */
export const EVENT_TYPE_LENGTH_MAX = 100;
/** Events returned by one read call. */
export const READ_COUNT_MAX = 10_000;
/** Nesting depth of event data. */
export const JSON_DEPTH_MAX = 32;
/** Default events per subscription batch. */
export const SUBSCRIBE_BATCH_SIZE_DEFAULT = 500;
/** Idle polling of a caught-up subscription backs off from the first to the second (ms). */
export const POLL_INTERVAL_MS_MIN = 20;
export const POLL_INTERVAL_MS_MAX = 250;
/**
 * Attempts of an `any`/`stream_exists` append that loses the compare-and-set to a concurrent writer. Each loss
 * means another append to the stream succeeded, so the writers as a whole move on; the bound is how long one writer
 * may keep losing (with the jittered pauses, up to about a second). At 10, one of 16 writers hammering 4 streams
 * ran out in a full test run on a loaded two-core machine (the contract's concurrent-writers test).
 */
export const ANY_APPEND_ATTEMPTS_MAX = 30;
