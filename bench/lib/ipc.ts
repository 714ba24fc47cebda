/**
 * Load-generating workers are child processes (the bench spreads clients over several processes:
 * one Node process saturates, and each is limited to 20,000 file descriptors here). This is the
 * typed request/response channel between the bench and a worker, over Node's IPC pipe.
 */
export type WorkerApi = Record<string, { req: unknown; res: unknown }>;

export interface RequestMessage {
  id: number;
  cmd: string;
  req: unknown;
}

export type ResponseMessage = { id: number; ok: true; res: unknown } | { id: number; ok: false; error: string };

export interface EventMessage {
  event: unknown;
}

export function isRequest(m: unknown): m is RequestMessage {
  return typeof m === 'object' && m !== null && typeof (m as { id?: unknown }).id === 'number' && typeof (m as { cmd?: unknown }).cmd === 'string';
}

export function isResponse(m: unknown): m is ResponseMessage {
  return typeof m === 'object' && m !== null && typeof (m as { id?: unknown }).id === 'number' && typeof (m as { ok?: unknown }).ok === 'boolean';
}

export function isEvent(m: unknown): m is EventMessage {
  return typeof m === 'object' && m !== null && 'event' in m;
}
