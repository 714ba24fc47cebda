/**
 * WsPool: the WebSocket server image, built by the provider from `server/.image` (prepared by
 * `npm run build:server`), and `replicas` containers `<prefix>-ws-<n>`.
 *
 * Each replica is its own resource keyed by its index, so scaling 5 → 2 destroys exactly 3, 4 and 5;
 * `destroy_grace_seconds` makes that destroy a `docker stop` (SIGTERM, then the stop timeout), which
 * lets the server drain its clients before it exits. Replicas share the network alias the balancer
 * resolves; nothing in a replica's configuration depends on how many replicas there are, so scaling
 * never touches the ones that stay.
 */
import { Construct } from 'constructs';
import type { ITerraformDependable } from 'cdktf';
import { Container } from '@cdktf/provider-docker/lib/container/index.js';
import { Image } from '@cdktf/provider-docker/lib/image/index.js';
import { PREFIX_LABEL, serverImageRepository, wsContainerName, wsServiceAlias } from '../names.js';
import { REPLICA_PORT, type Namespaces } from '../settings.js';
import { serverEnvironmentList } from '../server-env.js';
import { hardening } from './hardening.js';

export const WS_PORT = REPLICA_PORT;

export interface WsPoolProps {
  readonly prefix: string;
  readonly replicas: number;
  readonly networkName: string;
  /** Build context: server/.image (bundle + Dockerfile). */
  readonly contextDir: string;
  /** Hash of the build context's files: a changed server gets a new image tag and replaced replicas. */
  readonly contextHash: string;
  /** Base image for the Dockerfile's NODE_IMAGE build argument. */
  readonly nodeImage: string;
  readonly natsUrls: string[];
  /** Terraform expressions (sensitive variables). */
  readonly natsUser: string;
  readonly natsPassword: string;
  readonly authSecret: string;
  readonly serverApiKey: string;
  readonly namespaces: Namespaces;
  readonly tokenMaxLifetimeSec: number;
  readonly metricsPort: number;
  readonly drainWindowMs: number;
  readonly memoryMb: number;
  readonly cpus: number;
  readonly maxConnections: number;
  readonly logLevel: string;
  /** Resources the replicas must start after (the NATS nodes). */
  readonly dependsOn: ITerraformDependable[];
}

/** Seconds Docker waits after SIGTERM before SIGKILL: the drain window plus room to flush and exit. */
export function stopTimeoutSeconds(drainWindowMs: number): number {
  return Math.ceil(drainWindowMs / 1000) + 10;
}

export class WsPool extends Construct {
  readonly image: Image;
  readonly containers: Container[] = [];
  readonly names: string[];

  constructor(scope: Construct, id: string, props: WsPoolProps) {
    super(scope, id);
    const labels = [{ label: PREFIX_LABEL, value: props.prefix }];
    this.image = new Image(this, 'image', {
      name: `${serverImageRepository(props.prefix)}:${props.contextHash.slice(0, 12)}`,
      buildAttribute: {
        context: props.contextDir,
        dockerfile: 'Dockerfile',
        buildArgs: { NODE_IMAGE: props.nodeImage },
        label: { [PREFIX_LABEL]: props.prefix },
      },
      triggers: { context_sha256: props.contextHash },
      keepLocally: false,
      forceRemove: true,
    });

    const stopTimeout = stopTimeoutSeconds(props.drainWindowMs);
    const healthcheck = [
      'CMD',
      'node',
      '-e',
      `fetch('http://127.0.0.1:${WS_PORT}/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))`,
    ];
    this.names = Array.from({ length: props.replicas }, (_, i) => wsContainerName(props.prefix, i + 1));
    this.names.forEach((name, i) => {
      this.containers.push(
        new Container(this, `replica-${i + 1}`, {
          name,
          hostname: name,
          image: this.image.imageId,
          env: serverEnvironmentList({
            serverId: name,
            port: WS_PORT,
            natsUrls: props.natsUrls,
            natsUser: props.natsUser,
            natsPassword: props.natsPassword,
            authSecret: props.authSecret,
            serverApiKey: props.serverApiKey,
            namespaces: props.namespaces,
            tokenMaxLifetimeSec: props.tokenMaxLifetimeSec,
            metricsPort: props.metricsPort,
            drainWindowMs: props.drainWindowMs,
            maxConnections: props.maxConnections,
            logLevel: props.logLevel,
          }),
          networksAdvanced: [{ name: props.networkName, aliases: [wsServiceAlias(props.prefix)] }],
          user: '1000:1000',
          readOnly: true,
          ...hardening(),
          tmpfs: { '/tmp': 'rw,noexec,nosuid,size=16m' },
          restart: 'unless-stopped',
          memory: props.memoryMb,
          // Docker reports memory_swap = memory when unset; say so, or every plan shows a change. No swap.
          memorySwap: props.memoryMb,
          cpus: String(props.cpus),
          // Each socket is a file descriptor: the container inherits the Docker daemon's nofile default
          // (1048576 on a usual host). No fixed ulimit: one above the daemon's hard limit fails to start.
          healthcheck: { test: healthcheck, interval: '5s', timeout: '3s', startPeriod: '5s', retries: 3 },
          wait: true,
          waitTimeout: 120,
          stopSignal: 'SIGTERM',
          stopTimeout,
          // Without this the provider force-removes (SIGKILL): with it, destroy is `docker stop -t <grace>`.
          destroyGraceSeconds: stopTimeout,
          logOpts: { 'max-size': '10m', 'max-file': '3' },
          labels: [...labels, { label: 'io.ws-fleet.component', value: 'ws' }],
          dependsOn: props.dependsOn,
        }),
      );
    });
  }
}
