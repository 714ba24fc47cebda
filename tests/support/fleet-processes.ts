import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { startNatsCluster, type NatsCluster } from './nats-cluster.js';
import { startReplica, type Replica } from './replica.js';

export interface ProcessFleet {
  nats: NatsCluster;
  replicas: Replica[];
  /** A NATS client for observing subjects and KV from the test. */
  observer: NatsConnection;
  addReplica(id: string, env?: Record<string, string>): Promise<Replica>;
  stop(): Promise<void>;
}

export interface ProcessFleetOptions {
  /** NATS nodes (default 3); 1 is cheaper for tests that do not exercise the cluster. */
  natsNodes?: 1 | 3;
  /** Extra environment for every NATS node (e.g. GOMAXPROCS). */
  natsEnv?: Record<string, string>;
}

/** A 3-node (or 1-node) NATS cluster and `replicas` server processes, all on loopback. */
export async function startProcessFleet(replicaCount: number, env: Record<string, string> = {}, opts: ProcessFleetOptions = {}): Promise<ProcessFleet> {
  const nats = await startNatsCluster({ nodes: opts.natsNodes ?? 3, ...(opts.natsEnv === undefined ? {} : { env: opts.natsEnv }) });
  const replicas: Replica[] = [];
  const addReplica = async (id: string, extra: Record<string, string> = {}): Promise<Replica> => {
    const r = await startReplica({ id, natsUrls: nats.urls, natsUser: nats.user, natsPassword: nats.password, env: { ...env, ...extra } });
    replicas.push(r);
    return r;
  };
  try {
    await Promise.all(Array.from({ length: replicaCount }, (_, i) => addReplica(`r${i + 1}`)));
    replicas.sort((a, b) => a.id.localeCompare(b.id));
  } catch (err) {
    await Promise.all(replicas.map((r) => r.stop(1000)));
    await nats.stop();
    throw err;
  }
  const observer = await connect({ servers: nats.urls, user: nats.user, pass: nats.password });
  return {
    nats,
    replicas,
    observer,
    addReplica,
    stop: async () => {
      await observer.close();
      await Promise.all(replicas.map((r) => r.stop(3000)));
      await nats.stop();
    },
  };
}

/** One replica on its own NATS, for the tests of one describe block (see `oneReplicaSuite`). */
export interface ReplicaSuite {
  /** Set once the block's `before` has run. */
  readonly fleet: ProcessFleet;
  /** The fleet's first replica, r1. */
  readonly replica: Replica;
  /** Remembers a client to close after the block's tests, before the fleet stops; returns it. */
  track<T extends { close(): Promise<void> }>(client: T): T;
}

/**
 * Call inside a `describe`: starts a fleet of one replica (with `env`) before the block's tests, and
 * after them closes the clients they tracked and stops the fleet.
 */
export function oneReplicaSuite(env: Record<string, string> = {}, opts: ProcessFleetOptions = {}): ReplicaSuite {
  let fleet: ProcessFleet | undefined;
  const clients: { close(): Promise<void> }[] = [];
  const ready = (): ProcessFleet => {
    if (fleet === undefined) throw new Error('the suite\'s fleet is not started yet: read it inside a test');
    return fleet;
  };
  before(async () => {
    fleet = await startProcessFleet(1, env, opts);
    assert.ok(fleet.replicas[0], 'the fleet has its replica');
  });
  after(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await fleet?.stop();
  });
  return {
    get fleet() { return ready(); },
    get replica() {
      const r = ready().replicas[0];
      assert.ok(r);
      return r;
    },
    track: (client) => {
      clients.push(client);
      return client;
    },
  };
}
