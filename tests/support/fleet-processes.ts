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
}

/** A 3-node (or 1-node) NATS cluster and `replicas` server processes, all on loopback. */
export async function startProcessFleet(replicaCount: number, env: Record<string, string> = {}, opts: ProcessFleetOptions = {}): Promise<ProcessFleet> {
  const nats = await startNatsCluster({ nodes: opts.natsNodes ?? 3 });
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
