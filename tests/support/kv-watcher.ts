/**
 * Entry point bundled (esbuild) and run inside a container on a deployment's network by
 * tests/support/kv-watch.ts: watches one JetStream KV bucket and prints every entry as a JSON line
 * `{"op":"PUT"|"DEL"|"PURGE","key":…,"created":<ms, the NATS server's timestamp>,"seen":<ms>}` on stdout,
 * then `{"ready":true}` once the watch is open. Connection: NATS_URL, NATS_USER, NATS_PASS; bucket: BUCKET.
 * Runs until killed. Not imported by anything else.
 */
import { connect } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';

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
const kv = await new Kvm(nc).open(env('BUCKET'));
const iter = await kv.watch({ key: '>' });
process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
for await (const e of iter) {
  process.stdout.write(`${JSON.stringify({ op: e.operation, key: e.key, created: e.created.getTime(), seen: Date.now() })}\n`);
}
