/** Commands of the fan-out worker (bench/workers/fanout.ts): room members that count what they receive. */

export type FanoutKind = 'wsfleet' | 'bare' | 'socketio' | 'centrifugo';

export interface FanoutSetup {
  kind: FanoutKind;
  /** Per member: the server it connects to (ws://.../ws, or http://... for Socket.IO). */
  members: string[];
  room: string;
  /** For wsfleet and centrifugo: the JWT secret; the others identify with ?user= / auth.user. */
  secret: string;
  userPrefix: string;
}

export interface FanoutProgress {
  worker: string;
  /** Fewest messages any member of this worker has received since start. */
  min: number;
  total: number;
}

export interface FanoutCounts {
  total: number;
  min: number;
  max: number;
  /** A recent publish number (data.n) seen by one member: a sanity check that counted frames are the room's. */
  lastN: number;
  /** Members whose socket closed during the run. */
  closedEarly: number;
}

export type FanoutApi = {
  setup: { req: FanoutSetup; res: { members: number } };
  start: { req: { worker: string; reportEveryMs: number }; res: Record<string, never> };
  stop: { req: Record<string, never>; res: FanoutCounts };
  teardown: { req: Record<string, never>; res: { closed: number } };
};
