/**
 * Balancer: the HAProxy container in front of the replicas. Its haproxy.cfg is rendered by
 * `loadbalancer/` and uploaded into the container; an upload is part of the container's identity, so a
 * changed config (another lbMode, timeouts) replaces the container and nothing else. Replicas are found
 * through Docker DNS (the config's resolvers section), so scaling never changes the config.
 * Only the frontend and the stats ports are published, bound to the bind address. The stats page and the
 * exporter need the generated credentials, passed as environment variables. HAProxy runs as its image's
 * unprivileged user with no capabilities and no-new-privileges.
 */
import { createHash } from 'node:crypto';
import { Construct } from 'constructs';
import type { ITerraformDependable } from 'cdktf';
import { terraformLiteral } from '../render/terraform-literal.js';
import { Container } from '@cdktf/provider-docker/lib/container/index.js';
import { Image } from '@cdktf/provider-docker/lib/image/index.js';
import { balancerContainerName, PREFIX_LABEL } from '../names.js';
import { STATS_CREDENTIAL_ENV } from '../render/haproxy.js';
import { hardening } from './hardening.js';
import { httpHealthcheck } from './healthcheck.js';

export const HAPROXY_CONFIG_PATH = '/usr/local/etc/haproxy/haproxy.cfg';

export interface BalancerProps {
  readonly prefix: string;
  /** Image reference, e.g. haproxy:3.2.7 (present locally or pullable). */
  readonly image: string;
  readonly networkName: string;
  /** The rendered haproxy.cfg. */
  readonly config: string;
  /** Ports HAProxy listens on inside the container (from the rendered config). */
  readonly frontendPort: number;
  readonly statsPort: number;
  /** Path on the stats port answering 200 while HAProxy runs. */
  readonly healthPath: string;
  /** Where they are published on the host. */
  readonly bindAddress: string;
  readonly publishedFrontendPort: number;
  readonly publishedStatsPort: number;
  readonly memoryMb: number;
  readonly cpus: number;
  /** Terraform expressions (sensitive variables) for the stats page's credentials. */
  readonly statsUser: string;
  readonly statsPassword: string;
  readonly dependsOn: ITerraformDependable[];
}

export class Balancer extends Construct {
  readonly container: Container;

  constructor(scope: Construct, id: string, props: BalancerProps) {
    super(scope, id);
    const image = new Image(this, 'image', { name: props.image, keepLocally: true });
    this.container = new Container(this, 'haproxy', {
      name: balancerContainerName(props.prefix),
      hostname: balancerContainerName(props.prefix),
      image: image.imageId,
      // The config's log-format has %{...}, which Terraform would read as a template directive.
      upload: [{ file: HAPROXY_CONFIG_PATH, content: terraformLiteral(props.config) }],
      // Master-worker in the foreground, as the official image runs it.
      entrypoint: ['haproxy'],
      command: ['-W', '-db', '-f', HAPROXY_CONFIG_PATH],
      // The config names these ("${LB_STATS_USER}"); HAProxy expands them at start, so no credential is
      // in the config, the upload or the synthesized stack.
      env: [`${STATS_CREDENTIAL_ENV.user}=${props.statsUser}`, `${STATS_CREDENTIAL_ENV.password}=${props.statsPassword}`],
      ...hardening(),
      networksAdvanced: [{ name: props.networkName }],
      ports: [
        { internal: props.frontendPort, external: props.publishedFrontendPort, ip: props.bindAddress, protocol: 'tcp' },
        { internal: props.statsPort, external: props.publishedStatsPort, ip: props.bindAddress, protocol: 'tcp' },
      ],
      restart: 'unless-stopped',
      memory: props.memoryMb,
      // Docker reports memory_swap = memory when unset; say so, or every plan shows a change. No swap.
      memorySwap: props.memoryMb,
      cpus: String(props.cpus),
      // No ulimit here: the container inherits the Docker daemon's nofile default (1048576 on a usual
      // host; lower where the daemon itself is capped), and HAProxy sizes maxconn from it (about half).
      // A fixed ulimit above the daemon's own hard limit would keep the container from starting.
      healthcheck: httpHealthcheck(props.statsPort, props.healthPath),
      wait: true,
      waitTimeout: 60,
      stopTimeout: 10,
      destroyGraceSeconds: 10,
      logOpts: { 'max-size': '10m', 'max-file': '3' },
      labels: [
        { label: PREFIX_LABEL, value: props.prefix },
        { label: 'io.ws-fleet.component', value: 'balancer' },
        // Which config a balancer runs, visible in `docker inspect`.
        { label: 'io.ws-fleet.config-sha256', value: createHash('sha256').update(props.config).digest('hex') },
      ],
      dependsOn: props.dependsOn,
    });
  }
}
