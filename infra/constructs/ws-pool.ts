/**
 * WsPool: the WebSocket server image, built by the provider from a snapshot of `server/.image`
 * (prepared by `npm run build:server`; infra/server-context.ts), and `replicas` containers `<prefix>-ws-<n>`.
 * Each replica names its build in a label; during a rolling deploy (infra/rolling) some replicas are
 * pinned to the previous build, whose image stays until the last of them is replaced.
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
import { REPLICA_HEALTH_PATH, REPLICA_PORT } from '../settings.js';
import { pickReplicaEnv, terraformServerEnvironmentList, type ReplicaEnvSettings } from '../server-env.js';
import { hardening } from './hardening.js';
import type { ServerBuild } from '../server-context.js';
import { httpHealthcheck } from './healthcheck.js';

/** Label naming the build (context hash) a replica runs; infra/rolling reads it. */
export const SERVER_BUILD_LABEL = 'io.ws-fleet.server-build';

export const WS_PORT = REPLICA_PORT;

export interface WsPoolProps extends ReplicaEnvSettings {
  readonly prefix: string;
  readonly replicas: number;
  readonly networkName: string;
  /** The server build every replica runs: its context (bundle + Dockerfile) and the hash of its files. */
  readonly build: ServerBuild;
  /** Replicas (1-based) kept on an earlier build for this apply: a rolling deploy in progress. */
  readonly pinned?: ReadonlyMap<number, ServerBuild>;
  /** Base image for the Dockerfile's NODE_IMAGE build argument. */
  readonly nodeImage: string;
  readonly memoryMb: number;
  readonly cpus: number;
  /** Resources the replicas must start after (the NATS nodes). */
  readonly dependsOn: ITerraformDependable[];
}

/** Seconds Docker waits after SIGTERM before SIGKILL: the drain window plus room to flush and exit. */
export function stopTimeoutSeconds(drainWindowMs: number): number {
  return Math.ceil(drainWindowMs / 1000) + 10;
}

export class WsPool extends Construct {
  /** One image per build in use, keyed by build hash (two only while a rolling deploy is under way). */
  readonly images = new Map<string, Image>();
  readonly containers: Container[] = [];
  readonly names: string[];

  constructor(scope: Construct, id: string, props: WsPoolProps) {
    super(scope, id);
    const labels = [{ label: PREFIX_LABEL, value: props.prefix }];
    // Keyed by hash, not by role: the image of an earlier build keeps its resource (and its containers)
    // while the next build's image is created beside it; it is destroyed once no replica uses it.
    const imageFor = (build: ServerBuild): Image => {
      const existing = this.images.get(build.contextHash);
      if (existing !== undefined) return existing;
      const tag = build.contextHash.slice(0, 12);
      const image = new Image(this, `image-${tag}`, {
        name: `${serverImageRepository(props.prefix)}:${tag}`,
        buildAttribute: {
          context: build.contextDir,
          dockerfile: 'Dockerfile',
          buildArgs: { NODE_IMAGE: props.nodeImage },
          label: { [PREFIX_LABEL]: props.prefix },
        },
        triggers: { context_sha256: build.contextHash },
        keepLocally: false,
        forceRemove: true,
      });
      this.images.set(build.contextHash, image);
      return image;
    };
    imageFor(props.build);

    const stopTimeout = stopTimeoutSeconds(props.drainWindowMs);
    this.names = Array.from({ length: props.replicas }, (_, i) => wsContainerName(props.prefix, i + 1));
    this.names.forEach((name, i) => {
      const build = props.pinned?.get(i + 1) ?? props.build;
      this.containers.push(
        new Container(this, `replica-${i + 1}`, {
          name,
          hostname: name,
          image: imageFor(build).imageId,
          env: terraformServerEnvironmentList({
            serverId: name,
            port: WS_PORT,
            ...pickReplicaEnv(props),
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
          healthcheck: httpHealthcheck(WS_PORT, REPLICA_HEALTH_PATH),
          wait: true,
          waitTimeout: 120,
          stopSignal: 'SIGTERM',
          stopTimeout,
          // Without this the provider force-removes (SIGKILL): with it, destroy is `docker stop -t <grace>`.
          destroyGraceSeconds: stopTimeout,
          logOpts: { 'max-size': '10m', 'max-file': '3' },
          labels: [...labels, { label: 'io.ws-fleet.component', value: 'ws' }, { label: SERVER_BUILD_LABEL, value: build.contextHash }],
          dependsOn: props.dependsOn,
        }),
      );
    });
  }
}
