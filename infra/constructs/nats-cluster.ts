/**
 * NatsCluster: `nodes` nats-server containers with JetStream, each with a named volume for its store
 * (a replaced container keeps its data), cluster routes between all nodes, the monitoring port and a
 * healthcheck on it. Clients authenticate with the deployment's generated credentials, which reach the
 * containers as environment variables from sensitive Terraform variables; nats.conf only references them.
 * No port is published unless `debugPortBase` is set.
 */
import { Construct } from 'constructs';
import { terraformLiteral } from '../render/terraform-literal.js';
import { Container } from '@cdktf/provider-docker/lib/container/index.js';
import { Image } from '@cdktf/provider-docker/lib/image/index.js';
import { Volume } from '@cdktf/provider-docker/lib/volume/index.js';
import { renderNatsConfig } from '../render/nats-conf.js';
import { natsContainerName, natsVolumeName, PREFIX_LABEL } from '../names.js';

export const NATS_CLIENT_PORT = 4222;
export const NATS_CLUSTER_PORT = 6222;
export const NATS_MONITOR_PORT = 8222;
const CONFIG_PATH = '/etc/nats/ws-fleet.conf';
const DATA_DIR = '/data';

export interface NatsClusterProps {
  readonly prefix: string;
  readonly nodes: 1 | 3;
  /** Image reference, e.g. nats:2.15.2-alpine (present locally or pullable). */
  readonly image: string;
  readonly networkName: string;
  /** Terraform expressions (sensitive variables) for the client credentials. */
  readonly user: string;
  readonly password: string;
  readonly memoryMb: number;
  readonly cpus: number;
  readonly bindAddress: string;
  /** 0: publish nothing. Otherwise node n publishes its client port at base+n-1 and monitor port at base+100+n-1. */
  readonly debugPortBase: number;
}

export class NatsCluster extends Construct {
  readonly containers: Container[] = [];
  readonly volumes: Volume[] = [];
  /** Client URLs of every node, for the replicas' NATS_URLS. */
  readonly clientUrls: string[];

  constructor(scope: Construct, id: string, props: NatsClusterProps) {
    super(scope, id);
    const labels = [{ label: PREFIX_LABEL, value: props.prefix }];
    const image = new Image(this, 'image', { name: props.image, keepLocally: true });
    const names = Array.from({ length: props.nodes }, (_, i) => natsContainerName(props.prefix, i + 1));
    this.clientUrls = names.map((n) => `nats://${n}:${NATS_CLIENT_PORT}`);

    names.forEach((name, i) => {
      const n = i + 1;
      const volume = new Volume(this, `data-${n}`, { name: natsVolumeName(props.prefix, n), labels });
      this.volumes.push(volume);
      const config = renderNatsConfig({
        serverName: name,
        clusterName: props.prefix,
        clientPort: NATS_CLIENT_PORT,
        clusterPort: NATS_CLUSTER_PORT,
        monitorPort: NATS_MONITOR_PORT,
        routes: props.nodes > 1 ? names.filter((other) => other !== name).map((other) => `nats://${other}:${NATS_CLUSTER_PORT}`) : [],
        storeDir: `${DATA_DIR}/jetstream`,
        authEnv: { user: 'NATS_USER', password: 'NATS_PASSWORD' },
        jetstreamMaxMemoryBytes: 64 * 1024 * 1024,
        jetstreamMaxFileBytes: 1024 * 1024 * 1024,
      });
      const ports =
        props.debugPortBase > 0
          ? [
              { internal: NATS_CLIENT_PORT, external: props.debugPortBase + i, ip: props.bindAddress, protocol: 'tcp' },
              { internal: NATS_MONITOR_PORT, external: props.debugPortBase + 100 + i, ip: props.bindAddress, protocol: 'tcp' },
            ]
          : undefined;
      this.containers.push(
        new Container(this, `node-${n}`, {
          name,
          hostname: name,
          image: image.imageId,
          entrypoint: ['nats-server'],
          command: ['--config', CONFIG_PATH],
          env: [`NATS_USER=${props.user}`, `NATS_PASSWORD=${props.password}`],
          upload: [{ file: CONFIG_PATH, content: terraformLiteral(config) }],
          volumes: [{ volumeName: volume.name, containerPath: DATA_DIR }],
          networksAdvanced: [{ name: props.networkName }],
          ports,
          restart: 'unless-stopped',
          memory: props.memoryMb,
          // Docker reports memory_swap = memory when unset; say so, or every plan shows a change. No swap.
          memorySwap: props.memoryMb,
          cpus: String(props.cpus),
          healthcheck: {
            test: ['CMD', 'wget', '-q', '-O', '/dev/null', `http://127.0.0.1:${NATS_MONITOR_PORT}/healthz?js-enabled-only=true`],
            interval: '5s',
            timeout: '3s',
            startPeriod: '10s',
            retries: 5,
          },
          // Apply waits for the healthcheck, so replicas start against a node that serves JetStream.
          wait: true,
          waitTimeout: 120,
          // Graceful stop on destroy/replace (nats-server flushes JetStream on SIGTERM).
          stopTimeout: 15,
          destroyGraceSeconds: 15,
          logOpts: { 'max-size': '10m', 'max-file': '3' },
          labels: [...labels, { label: 'io.ws-fleet.component', value: 'nats' }],
        }),
      );
    });
  }
}
