/**
 * NatsCluster: `nodes` nats-server containers with JetStream, each with a named volume for its store
 * (a replaced container keeps its data), authenticated cluster routes between all nodes, and a
 * healthcheck on the monitoring port, which listens on the container's loopback only.
 *
 * Hardening: nats-server runs as an unprivileged user (the runtime image images/nats-runtime, built from
 * the NATS image, owns /data for it), with a read-only root filesystem, no capabilities and
 * no-new-privileges. Its configuration is rendered here and handed over in an environment variable,
 * written to a small tmpfs at start (Docker cannot upload files into a read-only root filesystem).
 *
 * Secrets: client and route credentials reach the containers as environment variables from sensitive
 * Terraform variables; nats.conf only references them, so the synthesized stack holds none.
 * No port is published unless `debugPortBase` is set (then only the client port).
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { Construct } from 'constructs';
import { terraformLiteral } from '../render/terraform-literal.js';
import { Container } from '@cdktf/provider-docker/lib/container/index.js';
import { Image } from '@cdktf/provider-docker/lib/image/index.js';
import { Volume } from '@cdktf/provider-docker/lib/volume/index.js';
import { formatRoutesValue, renderNatsConfig } from '../render/nats-conf.js';
import { hashDirectory } from '../server-context.js';
import { projectRoot } from '../paths.js';
import { natsContainerName, natsVolumeName, PREFIX_LABEL } from '../names.js';
import { hardening } from './hardening.js';
import { NATS_JETSTREAM_LIMITS } from '../nats-store.js';

export const NATS_CLIENT_PORT = 4222;
export const NATS_CLUSTER_PORT = 6222;
export const NATS_MONITOR_PORT = 8222;
/** The unprivileged user of images/nats-runtime (owner of /data). */
export const NATS_USER_ID = '4222:4222';
const CONFIG_PATH = '/tmp/ws-fleet-nats.conf';
const DATA_DIR = '/data';
const RUNTIME_CONTEXT = path.join(projectRoot, 'images', 'nats-runtime');

/** Environment variable names the rendered config refers to. */
const ENV = {
  config: 'NATS_CONFIG_TEXT',
  user: 'NATS_USER',
  password: 'NATS_PASSWORD',
  routeUser: 'NATS_ROUTE_USER',
  routePassword: 'NATS_ROUTE_PASSWORD',
  routes: 'NATS_ROUTES',
} as const;

export interface NatsClusterProps {
  readonly prefix: string;
  readonly nodes: 1 | 3;
  /** Image reference, e.g. nats:2.15.2-alpine (present locally or pullable): the runtime image's base. */
  readonly image: string;
  readonly networkName: string;
  /** Terraform expressions (sensitive variables) for the client credentials. */
  readonly user: string;
  readonly password: string;
  /** Terraform expressions (sensitive variables) for the route credentials. */
  readonly routeUser: string;
  readonly routePassword: string;
  readonly memoryMb: number;
  readonly cpus: number;
  readonly bindAddress: string;
  /** 0: publish nothing. Otherwise node n publishes its client port at base+n-1. */
  readonly debugPortBase: number;
}

export class NatsCluster extends Construct {
  readonly containers: Container[] = [];
  readonly volumes: Volume[] = [];
  readonly image: Image;
  /** Client URLs of every node, for the replicas' NATS_URLS. */
  readonly clientUrls: string[];

  constructor(scope: Construct, id: string, props: NatsClusterProps) {
    super(scope, id);
    const labels = [{ label: PREFIX_LABEL, value: props.prefix }];
    const base = new Image(this, 'image', { name: props.image, keepLocally: true });
    const runtimeHash = createHash('sha256').update(hashDirectory(RUNTIME_CONTEXT)).update(props.image).digest('hex');
    this.image = new Image(this, 'runtime-image', {
      name: `${props.prefix}-nats:${runtimeHash.slice(0, 12)}`,
      buildAttribute: {
        context: RUNTIME_CONTEXT,
        dockerfile: 'Dockerfile',
        buildArgs: { NATS_IMAGE: props.image },
        label: { [PREFIX_LABEL]: props.prefix },
      },
      triggers: { context_sha256: runtimeHash },
      keepLocally: false,
      forceRemove: true,
      dependsOn: [base],
    });
    const names = Array.from({ length: props.nodes }, (_, i) => natsContainerName(props.prefix, i + 1));
    this.clientUrls = names.map((n) => `nats://${n}:${NATS_CLIENT_PORT}`);
    const clustered = props.nodes > 1;

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
        ...(clustered ? { cluster: { routesEnv: ENV.routes, authEnv: { user: ENV.routeUser, password: ENV.routePassword } } } : {}),
        storeDir: `${DATA_DIR}/jetstream`,
        authEnv: { user: ENV.user, password: ENV.password },
        ...NATS_JETSTREAM_LIMITS,
      });
      const peers = names.filter((other) => other !== name).map((other) => `nats://${other}:${NATS_CLUSTER_PORT}`);
      const ports =
        props.debugPortBase > 0 ? [{ internal: NATS_CLIENT_PORT, external: props.debugPortBase + i, ip: props.bindAddress, protocol: 'tcp' }] : undefined;
      this.containers.push(
        new Container(this, `node-${n}`, {
          name,
          hostname: name,
          image: this.image.imageId,
          entrypoint: ['sh', '-c', `printf '%s' "$${ENV.config}" > ${CONFIG_PATH} && exec nats-server --config ${CONFIG_PATH}`],
          env: [
            `${ENV.config}=${terraformLiteral(config)}`,
            `${ENV.user}=${props.user}`,
            `${ENV.password}=${props.password}`,
            ...(clustered
              ? [
                  `${ENV.routeUser}=${props.routeUser}`,
                  `${ENV.routePassword}=${props.routePassword}`,
                  `${ENV.routes}=${formatRoutesValue(peers, props.routeUser, props.routePassword)}`,
                ]
              : []),
          ],
          volumes: [{ volumeName: volume.name, containerPath: DATA_DIR }],
          networksAdvanced: [{ name: props.networkName }],
          ports,
          user: NATS_USER_ID,
          readOnly: true,
          tmpfs: { '/tmp': 'rw,noexec,nosuid,size=1m' },
          ...hardening(),
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
