/**
 * One conditional append to a JetStream stream, sent over the replica's ReplyInbox: the headers
 * nats.js's `JetStreamClient.publish` would set (Nats-Msg-Id, Nats-Expected-Last-Subject-Sequence,
 * Nats-TTL), and its answer read the way nats.js reads a PubAck (a refusal is a JetStreamApiError
 * with the server's err_code).
 */
import { headers } from '@nats-io/nats-core';
import { JetStreamApiError, JetStreamError, PubHeaders, type ApiError } from '@nats-io/jetstream';
import type { ReplyInbox } from './reply-inbox.js';

export interface StreamAppend {
  /** Nats-Msg-Id: a second append with it inside the duplicate window is answered `duplicate`. */
  msgId: string;
  /** The subject's last sequence this append must follow (0: the subject has none). */
  expectLastSubjectSequence: number;
  /** Per-message max age (the stream allows message TTLs). */
  ttlSec?: number;
  timeoutMs: number;
}

export interface StreamAck {
  seq: number;
  /** Stored before, by an append with the same Nats-Msg-Id. */
  duplicate: boolean;
}

const decoder = new TextDecoder();

export async function appendToStream(inbox: Pick<ReplyInbox, 'request'>, subject: string, body: Uint8Array, opts: StreamAppend): Promise<StreamAck> {
  const h = headers();
  h.set(PubHeaders.MsgIdHdr, opts.msgId);
  h.set(PubHeaders.ExpectedLastSubjectSequenceHdr, String(opts.expectLastSubjectSequence));
  if (opts.ttlSec !== undefined) h.set(PubHeaders.MessageTTL, `${opts.ttlSec}s`);
  const answer = await inbox.request(subject, body, opts.timeoutMs, h);
  return parsePubAck(answer.data);
}

/** A stream's answer to a publish: the ack, or the refusal thrown as a JetStreamApiError. */
export function parsePubAck(data: Uint8Array): StreamAck {
  let v: { error?: ApiError; stream?: unknown; seq?: unknown; duplicate?: unknown };
  try {
    v = JSON.parse(decoder.decode(data)) as typeof v;
  } catch {
    throw new JetStreamError('invalid ack response: not JSON');
  }
  if (v.error !== undefined) throw new JetStreamApiError(v.error);
  if (typeof v.stream !== 'string' || v.stream === '' || typeof v.seq !== 'number' || !Number.isSafeInteger(v.seq)) throw new JetStreamError('invalid ack response');
  return { seq: v.seq, duplicate: v.duplicate === true };
}
