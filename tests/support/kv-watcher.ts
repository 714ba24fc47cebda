/**
 * Entry point bundled (esbuild) and run inside a container on a deployment's network by
 * tests/support/kv-watch.ts: watches one JetStream KV bucket and prints every entry as a JSON line
 * `{"op":"PUT"|"DEL"|"PURGE","key":…,"created":<ms, the NATS server's timestamp>,"seen":<ms>}` on stdout,
 * then `{"ready":true}` once the watch is open. Connection: NATS_URL, NATS_USER, NATS_PASS; bucket: BUCKET.
 * Runs until killed. Not imported by anything else.
 */
import { jetstream } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { BucketWatch } from '../../server/src/bucket-watch.js';
import { pino } from 'pino';

const env = (name: string): string => {
  const v = process.env[name];
  if (v === undefined || v === '') throw new Error(`kv-watcher: ${name} is not set`);
  return v;
};

const nc = await connect({
  servers: [env('NATS_URL')],
  user: env('NATS_USER'),
  pass: env('NATS_PASS'),
  name: 'ws-fleet-test-kv-watcher',
  maxReconnectAttempts: -1,
  reconnectTimeWait: 250,
  waitOnFirstConnect: true,
});
// The server's own watch (it outlives the loss of the NATS node holding its consumer; kv.watch() goes silent for a minute).
const watch = new BucketWatch({ js: jetstream(nc), bucket: env('BUCKET'), log: pino({ level: 'warn' }, pino.destination(2)) }); // stdout carries the entries
// Ready once the bucket's current entries are delivered.
void watch.start((e) => {
  process.stdout.write(`${JSON.stringify({ op: e.operation, key: e.key, created: e.created.getTime(), seen: Date.now() })}\n`);
}).then(() => { process.stdout.write(`${JSON.stringify({ ready: true })}\n`); });
