/**
 * Guards every NATS subscription callback of a connection. nats.js calls a subscription's callback
 * inside its socket reader: an exception thrown there ends the reader, and the replica silently stops
 * hearing NATS. Wrapping `subscribe` once, where the connection is made, covers every callback in
 * every module (and the ones nats.js and JetStream register through it): an exception is logged,
 * counted in `wsfleet_nats_callback_errors_total{subject}` (first subject token), and the reader goes on.
 */
import type { Msg, MsgCallback, NatsConnection, SubscriptionOptions } from '@nats-io/nats-core';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';

type Callback = MsgCallback<Msg>;

/** Wraps a callback so it never throws; returns a value the same shape as the original. */
export function guardCallback(subject: string, callback: Callback, log: Logger, metrics: Metrics): Callback {
  const label = subject.split('.')[0] ?? subject;
  return (err, msg) => {
    try {
      // A callback may be async: a rejected promise is as fatal as a throw for its caller's intent.
      const result = callback(err, msg) as unknown;
      if (result instanceof Promise) {
        result.catch((e: unknown) => {
          metrics.natsCallbackErrors.inc({ subject: label });
          log.error({ err: e, subject }, 'NATS subscription callback failed (async)');
        });
      }
    } catch (e) {
      metrics.natsCallbackErrors.inc({ subject: label });
      log.error({ err: e, subject }, 'NATS subscription callback failed; the reader carries on');
    }
  };
}

/** Replaces `nc.subscribe` with one that guards the callback it is given. Idempotent. */
export function guardSubscriptions(nc: NatsConnection, log: Logger, metrics: Metrics): NatsConnection {
  const marked = nc as NatsConnection & { wsfGuarded?: true };
  if (marked.wsfGuarded === true) return nc;
  const subscribe = nc.subscribe.bind(nc);
  nc.subscribe = (subject: string, opts?: SubscriptionOptions) => {
    const callback = opts?.callback;
    if (opts === undefined || callback === undefined) return subscribe(subject, opts);
    return subscribe(subject, { ...opts, callback: guardCallback(subject, callback, log, metrics) });
  };
  marked.wsfGuarded = true;
  return nc;
}
