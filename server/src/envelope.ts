/**
 * What replicas send each other over NATS. One JSON object per message; `ts` is the time the
 * message entered the fleet (ms since epoch), so the delivering replica can measure latency.
 * `msgId` (`<sender>:<client id>`) is what the sending replica passes to Delivery to make the
 * append idempotent (Nats-Msg-Id); Delivery strips it before anything goes over NATS.
 */
export type Envelope =
  | { v: 1; kind: 'direct'; to: string; from: string; data: unknown; ts: number; origin: string; seq?: number; prev?: number; msgId?: string }
  | { v: 1; kind: 'room'; room: string; from: string; data: unknown; ts: number; origin: string; seq?: number; prev?: number; msgId?: string }
  | { v: 1; kind: 'broadcast'; from: string; data: unknown; ts: number; origin: string };

/** The reply to a targeted delivery request: how many of the user's sockets were written. */
export interface DeliveryReply {
  delivered: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encode(value: Envelope | DeliveryReply): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

export function decodeEnvelope(bytes: Uint8Array): Envelope | null {
  try {
    const v = JSON.parse(decoder.decode(bytes)) as Partial<Envelope>;
    if (v.v !== 1 || typeof v.from !== 'string' || typeof v.ts !== 'number') return null;
    if (v.kind === 'direct' && typeof v.to === 'string') return v as Envelope;
    if (v.kind === 'room' && typeof v.room === 'string') return v as Envelope;
    if (v.kind === 'broadcast') return v as Envelope;
    return null;
  } catch {
    return null;
  }
}

export function decodeReply(bytes: Uint8Array): DeliveryReply | null {
  try {
    const v = JSON.parse(decoder.decode(bytes)) as Partial<DeliveryReply>;
    return typeof v.delivered === 'number' ? { delivered: v.delivered } : null;
  } catch {
    return null;
  }
}
