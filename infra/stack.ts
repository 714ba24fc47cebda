/**
 * The ws-fleet stack: one network, the NATS JetStream cluster, the ws replicas and the balancer on
 * local Docker. Secrets are sensitive Terraform variables (TF_VAR_auth_secret, TF_VAR_server_api_key,
 * TF_VAR_nats_user, ...: infra/secrets.ts lists them), so none is ever part of the synthesized configuration.
 */
import { Construct } from 'constructs';
import { LocalBackend, TerraformOutput, TerraformStack } from 'cdktf';
import { DockerProvider } from '@cdktf/provider-docker/lib/provider/index.js';
import type { Settings } from './settings.js';
import { declareSecretVariables } from './secret-variables.js';
import { replicaEnvFromSettings } from './server-env.js';
import { terraformStateFile } from './paths.js';
import { FleetNetwork } from './constructs/fleet-network.js';
import { NatsCluster } from './constructs/nats-cluster.js';
import { WsPool } from './constructs/ws-pool.js';
import { Balancer } from './constructs/balancer.js';
import type { BalancerConfig } from './render/haproxy.js';
import { dockerProviderVersion } from './provider-version.js';
import type { ServerContext } from './server-context.js';

export { dockerProviderVersion };

export interface FleetStackProps {
  readonly settings: Settings;
  /** The server build (context and hash of its files), and replicas pinned to earlier builds. */
  readonly server: ServerContext;
  /** The rendered haproxy.cfg and the ports it listens on. */
  readonly balancer: BalancerConfig;
  /** Terraform state file; defaults to .ws-fleet/state/<prefix>.tfstate. */
  readonly stateFile?: string;
}

export class FleetStack extends TerraformStack {
  readonly network: FleetNetwork;
  readonly nats: NatsCluster;
  readonly pool: WsPool;
  readonly balancer: Balancer;

  constructor(scope: Construct, id: string, props: FleetStackProps) {
    super(scope, id);
    const s = props.settings;

    new LocalBackend(this, { path: props.stateFile ?? terraformStateFile(s.prefix) });
    new DockerProvider(this, 'docker', {});
    // Pin the kreuzwerker/docker version setup put in the mirror (3.6.2 from the registry, or the
    // source-built label offline: scripts/lib/versions.sh); the bindings alone would ask for 3.6.2.
    this.addOverride('terraform.required_providers.docker.version', dockerProviderVersion());

    const secrets = declareSecretVariables(this);
    const { natsUser, natsPassword, natsRouteUser, natsRoutePassword, lbStatsUser, lbStatsPassword } = secrets;

    this.network = new FleetNetwork(this, 'network', { prefix: s.prefix });

    this.nats = new NatsCluster(this, 'nats', {
      prefix: s.prefix,
      nodes: s.natsNodes,
      image: s.natsImage,
      networkName: this.network.name,
      user: natsUser,
      password: natsPassword,
      routeUser: natsRouteUser,
      routePassword: natsRoutePassword,
      memoryMb: s.natsMemoryMb,
      cpus: s.natsCpus,
      bindAddress: s.bindAddress,
      debugPortBase: s.debugNatsPortBase,
    });

    this.pool = new WsPool(this, 'ws', {
      prefix: s.prefix,
      replicas: s.replicas,
      networkName: this.network.name,
      build: { contextDir: props.server.contextDir, contextHash: props.server.contextHash },
      ...(props.server.pinned === undefined ? {} : { pinned: props.server.pinned }),
      nodeImage: s.nodeImage,
      ...replicaEnvFromSettings(s, secrets, this.nats.clientUrls),
      memoryMb: s.wsMemoryMb,
      cpus: s.wsCpus,
      dependsOn: this.nats.containers,
    });

    this.balancer = new Balancer(this, 'balancer', {
      prefix: s.prefix,
      image: s.haproxyImage,
      networkName: this.network.name,
      config: props.balancer.config,
      frontendPort: props.balancer.frontendPort,
      statsPort: props.balancer.statsPort,
      healthPath: props.balancer.healthPath,
      bindAddress: s.bindAddress,
      publishedFrontendPort: s.balancerPort,
      publishedStatsPort: s.statsPort,
      memoryMb: s.lbMemoryMb,
      cpus: s.lbCpus,
      statsUser: lbStatsUser,
      statsPassword: lbStatsPassword,
      // Not on the replicas: the balancer finds them through DNS, so scaling never touches it.
      dependsOn: [this.network.network],
    });

    const base = `${s.bindAddress}:${s.balancerPort}`;
    new TerraformOutput(this, 'balancer_url', { value: `http://${base}`, description: 'HTTP endpoints (POST /send, /healthz) through the balancer' });
    new TerraformOutput(this, 'websocket_url', { value: `ws://${base}/ws`, description: 'WebSocket endpoint through the balancer' });
    new TerraformOutput(this, 'stats_url', {
      value: `http://${s.bindAddress}:${s.statsPort}${props.balancer.statsPath}`,
      description: 'HAProxy stats page (basic auth: LB_STATS_USER / LB_STATS_PASSWORD in the secrets file)',
    });
    new TerraformOutput(this, 'replica_names', { value: this.pool.names, description: 'ws replica container names' });
    new TerraformOutput(this, 'nats_nodes', { value: this.nats.containers.map((c) => c.name), description: 'NATS container names' });
    new TerraformOutput(this, 'lb_mode', { value: s.lbMode });
  }
}
