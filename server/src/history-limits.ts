/**
 * What the history keeps of one subject where a room's namespace asks for less than the streams
 * keep (HISTORY_MAX_AGE_SEC, HISTORY_MAX_MSGS_PER_USER per subject, which bound every subject):
 * a namespace's `historyMaxAgeSec` becomes each of its messages' Nats-TTL, its `historyMaxMsgs` a
 * count checked before each append. A namespace asking for more gets the streams' limits (named
 * at start-up). `keepHistory: false` is not here: such messages are never appended (messaging.ts).
 */
import type { Config } from './config.js';
import { namespaceOfRoomLog } from './subjects.js';

export interface RoomLimits {
  /** Seconds each message is kept: sent as its Nats-TTL (WSF_ROOMS allows per-message TTLs). */
  ttlSec?: number;
  /** Messages one room keeps: counted on the stream leader before each append, refused past it. */
  maxMsgs?: number;
}

export class HistoryLimits {
  private readonly byNamespace = new Map<string, RoomLimits>();
  private readonly streamMaxAgeSec: number;
  /** Namespaces asking for more history than the streams keep, as "ns.field value > VARIABLE limit". */
  readonly capped: readonly string[];

  constructor(config: Pick<Config, 'namespaces' | 'history'>) {
    const { maxAgeSec, maxMsgsPerUser } = config.history;
    this.streamMaxAgeSec = maxAgeSec;
    const capped: string[] = [];
    for (const [name, policy] of config.namespaces) {
      const limits: RoomLimits = {};
      if (policy.historyMaxAgeSec < maxAgeSec) limits.ttlSec = policy.historyMaxAgeSec;
      if (policy.historyMaxMsgs < maxMsgsPerUser) limits.maxMsgs = policy.historyMaxMsgs;
      this.byNamespace.set(name, limits);
      if (!policy.keepHistory) continue;
      if (policy.historyMaxAgeSec > maxAgeSec) capped.push(`${name}.historyMaxAgeSec ${policy.historyMaxAgeSec} > HISTORY_MAX_AGE_SEC ${maxAgeSec}`);
      if (policy.historyMaxMsgs > maxMsgsPerUser) capped.push(`${name}.historyMaxMsgs ${policy.historyMaxMsgs} > HISTORY_MAX_MSGS_PER_USER ${maxMsgsPerUser}`);
    }
    this.capped = capped;
  }

  /** The limits of the room whose history `subject` is; none for an inbox or a namespace without any. */
  of(subject: string): RoomLimits {
    const ns = namespaceOfRoomLog(subject);
    return (ns === undefined ? undefined : this.byNamespace.get(ns)) ?? {};
  }

  /** How long a message on `subject` is kept. */
  maxAgeSecOf(subject: string): number {
    return this.of(subject).ttlSec ?? this.streamMaxAgeSec;
  }
}
