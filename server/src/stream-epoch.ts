/**
 * The streams' epoch: which incarnation of WSF_INBOX and WSF_ROOMS a seq belongs to. Seqs restart
 * when a stream is deleted and created again (a fleet torn down with its volumes, an operator's
 * reset), so a resume position means something only together with the epoch it was taken in.
 * Derived from the streams' own creation times, so every replica computes the same value without
 * storing it anywhere, and a recreated stream gets a new one.
 */
import { createHash } from 'node:crypto';

/** What an epoch may look like on the wire (the welcome's `epoch`, `?epoch=`, a frame's `epoch`). */
export const EPOCH_RULE = /^[A-Za-z0-9_-]{1,64}$/;

/** The epoch of streams created at these times (StreamInfo.created of each, in a fixed order). */
export function streamEpoch(created: readonly string[]): string {
  return createHash('sha256').update(created.join('\n')).digest('base64url').slice(0, 12);
}

/**
 * Where a replay starts for a position the client brings: as given when it is of this epoch (or
 * names none: a client that predates epochs), else from the start (everything the new streams
 * hold), and the replay then says `recovered: false`.
 */
export function positionIn(epoch: string, after: number, clientEpoch: string | undefined): { after: number; lost: boolean } {
  if (clientEpoch === undefined || clientEpoch === epoch) return { after, lost: false };
  return { after: 0, lost: true };
}
