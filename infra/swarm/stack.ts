/**
 * The ws-fleet stack on Docker Swarm: the same components, images, renderers and DNS names as the
 * docker engine's FleetStack (infra/stack.ts), as Swarm services across the swarm's nodes:
 * an attachable overlay network, one pinned service per NATS node, one replicated ws service and a
 * global HAProxy service on the balancer's nodes. The provider talks to the manager (settings
 * swarmManager, else DOCKER_HOST). Secrets are sensitive Terraform variables, as on the docker engine.
 */
import { Construct } from 'constructs';
import { LocalBackend, TerraformOutput, TerraformStack } from 'cdktf';
import { DockerProvider } from '@cdktf/provider-docker/lib/provider/index.js';
import { placementConstraint, natsPlacementFor, type Settings } from '../settings.js';
import { declareSecretVariables } from '../secret-variables.js';
import { replicaEnvFromSettings } from '../server-env.js';
import { terraformStateFile } from '../paths.js';
import { dockerProviderVersion } from '../provider-version.js';
import type { BalancerConfig } from '../render/haproxy.js';
import { attachNetwork, SwarmNetwork } from './network.js';
import { NatsServices } from './nats-services.js';
import { WsService } from './ws-service.js';
import { BalancerService } from './balancer-service.js';
import { SwarmImages, type ImageRefs } from './images.js';

export interface SwarmStackProps {
  readonly settings: Settings;
  /** Local references of the three images on the manager (the server image is built by the deploy command). */
  readonly images: ImageRefs;
  readonly balancer: BalancerConfig;
  /** Terraform state file; defaults to .ws-fleet/state/<prefix>.tfstate. */
  readonly stateFile?: string;
}

export class SwarmStack extends TerraformStack {
  readonly network: SwarmNetwork;
  readonly images: SwarmImages;
  readonly nats: NatsServices;
  readonly ws: WsService;
  readonly balancer: BalancerService;

  constructor(scope: Construct, id: string, props: SwarmStackProps) {
    super(scope, id);
    const s = props.settings;
    if (s.engine !== 'swarm') throw new Error(`SwarmStack needs engine=swarm, not ${s.engine}`);

    new LocalBackend(this, { path: props.stateFile ?? terraformStateFile(s.prefix) });
    new DockerProvider(this, 'docker', s.swarmManager === '' ? {} : { host: s.swarmManager });
    this.addOverride('terraform.required_providers.docker.version', dockerProviderVersion());

    const secrets = declareSecretVariables(this);
    const { natsUser, natsPassword, natsRouteUser, natsRoutePassword, lbStatsUser, lbStatsPassword } = secrets;

    this.network = new SwarmNetwork(this, 'network', { prefix: s.prefix });
    this.images = new SwarmImages(this, 'images', { registry: s.registry, local: props.images });

    this.nats = new NatsServices(this, 'nats', {
      prefix: s.prefix,
      nodes: s.natsNodes,
      image: this.images.refs.nats,
      constraints: Array.from({ length: s.natsNodes }, (_, i) => placementConstraint(natsPlacementFor(s, i + 1))),
      user: natsUser,
      password: natsPassword,
      routeUser: natsRouteUser,
      routePassword: natsRoutePassword,
      memoryMb: s.natsMemoryMb,
      cpus: s.natsCpus,
    });

    this.ws = new WsService(this, 'ws', {
      prefix: s.prefix,
      replicas: s.replicas,
      image: this.images.refs.server,
      ...replicaEnvFromSettings(s, secrets, this.nats.clientUrls),
      memoryMb: s.wsMemoryMb,
      cpus: s.wsCpus,
      dependsOn: this.nats.services,
    });

    this.balancer = new BalancerService(this, 'balancer', {
      prefix: s.prefix,
      image: this.images.refs.haproxy,
      config: props.balancer.config,
      frontendPort: props.balancer.frontendPort,
      statsPort: props.balancer.statsPort,
      healthPath: props.balancer.healthPath,
      publishedFrontendPort: s.balancerPort,
      publishedStatsPort: s.statsPort,
      constraints: s.balancerPlacement.map(placementConstraint),
      statsUser: lbStatsUser,
      statsPassword: lbStatsPassword,
      memoryMb: s.lbMemoryMb,
      cpus: s.lbCpus,
      // Not on the replicas: the balancer finds them through DNS, so scaling never touches it.
      dependsOn: [this.network.network],
    });

    const providerVersion = dockerProviderVersion();
    for (const service of [...this.nats.services, this.ws.service, this.balancer.service]) attachNetwork(service, this.network.network.id, providerVersion);

    new TerraformOutput(this, 'engine', { value: 'swarm' });
    new TerraformOutput(this, 'balancer_port', { value: s.balancerPort, description: 'published in host mode on every node running the balancer' });
    new TerraformOutput(this, 'stats_port', { value: s.statsPort });
    new TerraformOutput(this, 'stats_path', { value: props.balancer.statsPath });
    new TerraformOutput(this, 'ws_service', { value: this.ws.name, description: 'replicated service; tasks are <prefix>-ws-<slot>' });
    new TerraformOutput(this, 'nats_nodes', { value: this.nats.names });
    new TerraformOutput(this, 'lb_mode', { value: s.lbMode });
  }
}
