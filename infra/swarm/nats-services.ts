/**
 * NatsServices: one Swarm service per NATS node (`<prefix>-nats-<n>`), each 1 replica pinned to its own
 * swarm node, so its named volume (created on that node on first start) holds the JetStream store across
 * restarts. Endpoint mode dnsrr: the service name resolves to the task's own address (no virtual IP;
 * this machine kind has no IPVS), and the node advertises that name for routes and clients, so a restarted
 * task with a new address is found again. The configuration is a docker_config named after a hash of its
 * content; a change creates a new config and rolls that node alone (stop-first: two tasks must never share
 * the store). Separate services restart one at a time.
 */
import { Construct } from 'constructs';
import { Config } from '@cdktf/provider-docker/lib/config/index.js';
import { Service } from '@cdktf/provider-docker/lib/service/index.js';
import { formatRoutesValue, renderNatsConfig } from '../render/nats-conf.js';
import { NATS_CLIENT_PORT, NATS_CLUSTER_PORT, NATS_MONITOR_PORT } from '../constructs/nats-cluster.js';
import { natsVolumeName, PREFIX_LABEL } from '../names.js';
import { contentNamedConfig, natsServiceName } from './names.js';
import { labelList, swarmLimits } from './limits.js';
import { NATS_JETSTREAM_LIMITS } from '../nats-store.js';

const CONFIG_PATH = '/etc/nats/ws-fleet.conf';
const DATA_DIR = '/data';
/** Environment variables the rendered config refers to for the cluster routes (never their values). */
const ROUTE_ENV = { user: 'NATS_ROUTE_USER', password: 'NATS_ROUTE_PASSWORD', routes: 'NATS_ROUTES' } as const;

export interface NatsServicesProps {
  readonly prefix: string;
  readonly nodes: 1 | 3;
  readonly image: string;
  /** A Swarm placement constraint per node (node.id==…, node.labels.…==…). */
  readonly constraints: string[];
  /** Terraform expressions (sensitive variables). */
  readonly user: string;
  readonly password: string;
  /** Cluster route credentials (Terraform expressions): routes are authenticated both ways. */
  readonly routeUser: string;
  readonly routePassword: string;
  readonly memoryMb: number;
  readonly cpus: number;
}

export class NatsServices extends Construct {
  readonly services: Service[] = [];
  readonly configs: Config[] = [];
  readonly clientUrls: string[];
  readonly names: string[];

  constructor(scope: Construct, id: string, props: NatsServicesProps) {
    super(scope, id);
    if (props.constraints.length !== props.nodes) throw new Error(`NatsServices: ${props.nodes} nodes need ${props.nodes} constraints`);
    this.names = Array.from({ length: props.nodes }, (_, i) => natsServiceName(props.prefix, i + 1));
    this.clientUrls = this.names.map((n) => `nats://${n}:${NATS_CLIENT_PORT}`);
    const labels = { [PREFIX_LABEL]: props.prefix, 'io.ws-fleet.component': 'nats' };

    const clustered = props.nodes > 1;
    this.names.forEach((name, i) => {
      const n = i + 1;
      const peers = this.names.filter((o) => o !== name).map((o) => `nats://${o}:${NATS_CLUSTER_PORT}`);
      const routeEnv: Record<string, string> = clustered
        ? { [ROUTE_ENV.user]: props.routeUser, [ROUTE_ENV.password]: props.routePassword, [ROUTE_ENV.routes]: formatRoutesValue(peers, props.routeUser, props.routePassword) }
        : {};
      const text = renderNatsConfig({
        serverName: name,
        clusterName: props.prefix,
        clientPort: NATS_CLIENT_PORT,
        clusterPort: NATS_CLUSTER_PORT,
        monitorPort: NATS_MONITOR_PORT,
        ...(clustered ? { cluster: { routesEnv: ROUTE_ENV.routes, authEnv: { user: ROUTE_ENV.user, password: ROUTE_ENV.password } } } : {}),
        storeDir: `${DATA_DIR}/jetstream`,
        authEnv: { user: 'NATS_USER', password: 'NATS_PASSWORD' },
        ...NATS_JETSTREAM_LIMITS,
      });
      const config = new Config(this, `config-${n}`, {
        name: contentNamedConfig(`${name}-conf`, text),
        // Base64 in the plan: no Terraform template escaping needed for the file's text.
        data: Buffer.from(text).toString('base64'),
        lifecycle: { createBeforeDestroy: true },
      });
      this.configs.push(config);
      const previous = this.services.at(-1);
      const advertise = props.nodes > 1 ? ['--cluster_advertise', `${name}:${NATS_CLUSTER_PORT}`] : [];
      this.services.push(
        new Service(this, `node-${n}`, {
          name,
          labels: labelList(labels),
          mode: { replicated: { replicas: 1 } },
          endpointSpec: { mode: 'dnsrr' },
          taskSpec: {
            containerSpec: {
              image: props.image,
              hostname: name,
              command: ['nats-server'],
              args: ['--config', CONFIG_PATH, '--client_advertise', `${name}:${NATS_CLIENT_PORT}`, ...advertise],
              env: { NATS_USER: props.user, NATS_PASSWORD: props.password, ...routeEnv },
              configs: [{ configId: config.id, configName: config.name, fileName: CONFIG_PATH, fileMode: 0o444 }],
              mounts: [
                {
                  type: 'volume',
                  source: natsVolumeName(props.prefix, n),
                  target: DATA_DIR,
                  volumeOptions: { labels: labelList({ [PREFIX_LABEL]: props.prefix }) },
                },
              ],
              healthcheck: {
                test: ['CMD', 'wget', '-q', '-O', '/dev/null', `http://127.0.0.1:${NATS_MONITOR_PORT}/healthz?js-enabled-only=true`],
                interval: '5s',
                timeout: '3s',
                startPeriod: '10s',
                retries: 5,
              },
              // nats-server flushes JetStream on SIGTERM.
              stopSignal: 'SIGTERM',
              stopGracePeriod: '15s',
              labels: labelList(labels),
            },
            placement: { constraints: [props.constraints[i] ?? ''] },
            resources: { limits: swarmLimits(props.memoryMb, props.cpus) },
            restartPolicy: { condition: 'any', delay: '2s', window: '30s' },
            logDriver: { name: 'json-file', options: { 'max-size': '10m', 'max-file': '3' } },
          },
          // One task: the old one stops (and releases the store) before its replacement starts.
          updateConfig: { parallelism: 1, order: 'stop-first', failureAction: 'rollback', monitor: '15s', delay: '5s' },
          rollbackConfig: { parallelism: 1, order: 'stop-first', monitor: '15s' },
          convergeConfig: { delay: '5s', timeout: '3m' },
          // Each node after the previous one has converged: a change rolls the nodes one at a time.
          dependsOn: previous === undefined ? [] : [previous],
        }),
      );
    });
  }
}
