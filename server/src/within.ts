/**
 * A deadline on a promise: the promise's outcome, or nats.js's TimeoutError (a transient failure,
 * as nats-errors.ts classifies it) after `ms`. The work left behind is abandoned, not cancelled.
 */
import { TimeoutError } from '@nats-io/nats-core';

export function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => { reject(new TimeoutError()); }, ms);
  });
  return Promise.race([promise, expired]).finally(() => { clearTimeout(timer); });
}
