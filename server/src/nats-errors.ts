/**
 * What a NATS or JetStream failure means for us, told by nats.js's own error classes and codes
 * (`JetStreamApiError` with `JetStreamApiCodes`, `TimeoutError`, `RequestError.isNoResponders()`),
 * never by an error's message. The two nats-server codes nats.js has no name for are named here.
 */
import { ClosedConnectionError, ConnectionError, RequestError, TimeoutError } from '@nats-io/nats-core';
import { JetStreamApiCodes, JetStreamApiError, JetStreamError } from '@nats-io/jetstream';

/**
 * nats-server's error codes (server/errors.json) that nats.js does not name in `JetStreamApiCodes`.
 */
export const ServerErrorCodes = {
  /** JSStreamStoreFailedF "store failed": with `discard: new`, the stream or the subject is at its limit (or another store failure). */
  StreamStoreFailed: 10077,
  /** JSStreamDuplicateMessageConflict "duplicate message id is in process": an earlier attempt with this Nats-Msg-Id is still being stored. */
  DuplicateMessageInFlight: 10158,
} as const;

/** JetStream API status for "temporarily unavailable" (no stream or meta leader while one is elected). */
const SERVICE_UNAVAILABLE = 503;

/** The error and its causes, outermost first (nats.js wraps: JetStreamNotEnabled → RequestError → NoRespondersError). */
function* causes(err: unknown): Generator {
  let e: unknown = err;
  for (let depth = 0; depth < 5 && e !== undefined && e !== null; depth++) {
    yield e;
    e = e instanceof Error ? e.cause : undefined;
  }
}

/** A JetStream API refusal with this code (nats.js's `JetStreamApiError.code`, the server's err_code). */
export function isApiError(err: unknown, code: number): err is JetStreamApiError {
  return err instanceof JetStreamApiError && err.code === code;
}

/**
 * A conditional append lost the race (JetStreamApiCodes.StreamWrongLastSequence, whose description
 * names the subject's tail, or StreamWrongLastSequenceUnknown, which names none).
 */
export function wrongLastSequence(err: unknown): { tailNamed: boolean; description: string } | undefined {
  if (isApiError(err, JetStreamApiCodes.StreamWrongLastSequence)) return { tailNamed: true, description: err.message };
  if (isApiError(err, JetStreamApiCodes.StreamWrongLastSequenceUnknown)) return { tailNamed: false, description: err.message };
  return undefined;
}

/** Nobody listens on the subject (a request to a replica that is gone): nats.js's RequestError.isNoResponders(). */
export function isNoResponders(err: unknown): boolean {
  for (const e of causes(err)) if (e instanceof RequestError && e.isNoResponders()) return true;
  return false;
}

/**
 * A failure that a JetStream leader election or a NATS reconnect produces, and that goes away:
 * no answer in time, nobody listening (no leader yet; nats.js reports it as "JetStream not
 * enabled" with the no-responders error as its cause), the connection closed or lost under the
 * request, or the API saying it is temporarily unavailable.
 */
export function isTransient(err: unknown): boolean {
  for (const e of causes(err)) {
    if (e instanceof TimeoutError || e instanceof RequestError || e instanceof ClosedConnectionError || e instanceof ConnectionError) return true;
    if (e instanceof JetStreamApiError && (e.status === SERVICE_UNAVAILABLE || e.code === JetStreamApiCodes.JetStreamNotEnabledForAccount)) return true;
  }
  return false;
}

/**
 * How a direct-get batch says there is nothing (more) at or after the sequence asked: a 404 status
 * (nats.js's JetStreamStatusError, a JetStreamError carrying the status code), or the API's
 * JetStreamApiCodes.NoMessageFound.
 */
export function isNoMessage(err: unknown): boolean {
  if (isApiError(err, JetStreamApiCodes.NoMessageFound)) return true;
  return err instanceof JetStreamError && (err as JetStreamError & { code?: unknown }).code === 404;
}
