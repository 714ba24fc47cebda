/**
 * BalancerService: HAProxy as a global Swarm service on the nodes the balancer placement picks, one task
 * per node, publishing the frontend and stats ports in host mode on those nodes (no routing mesh: it needs
 * IPVS). The haproxy.cfg (the same renderer as the docker engine) is a docker_config named after a hash of
 * its content, so another lbMode is a new config and a rolling update of this service alone. HAProxy
 * finds the replicas by asking Docker's DNS for the ws service's name (dnsrr: one record per task).
 */
import { Construct } from 'constructs';
import type { ITerraformDependable } from 'cdktf';
import { Config } from '@cdktf/provider-docker/lib/config/index.js';
import { Service } from '@cdktf/provider-docker/lib/service/index.js';
import { HAPROXY_CONFIG_PATH } from '../constructs/balancer.js';
import { httpHealthcheck } from '../constructs/healthcheck.js';
import { PREFIX_LABEL } from '../names.js';
import { balancerServiceName, contentNamedConfig } from './names.js';
import { labelList, swarmLimits } from './limits.js';
import { STATS_CREDENTIAL_ENV } from '../render/haproxy.js';

export interface BalancerServiceProps {
  readonly prefix: string;
  readonly image: string;
  readonly config: string;
  readonly frontendPort: number;
  readonly statsPort: number;
  readonly healthPath: string;
  readonly publishedFrontendPort: number;
  readonly publishedStatsPort: number;
  /** Swarm placement constraints (ANDed). */
  readonly constraints: string[];
  /** Stats page and exporter credentials (Terraform expressions); HAProxy expands them from its environment. */
  readonly statsUser: string;
  readonly statsPassword: string;
  readonly memoryMb: number;
  readonly cpus: number;
  readonly dependsOn: ITerraformDependable[];
}

export class BalancerService extends Construct {
  readonly service: Service;
  readonly config: Config;

  constructor(scope: Construct, id: string, props: BalancerServiceProps) {
    super(scope, id);
    const name = balancerServiceName(props.prefix);
    const labels = { [PREFIX_LABEL]: props.prefix, 'io.ws-fleet.component': 'balancer' };
    this.config = new Config(this, 'haproxy-cfg', {
      name: contentNamedConfig(`${name}-cfg`, props.config),
      data: Buffer.from(props.config).toString('base64'),
      lifecycle: { createBeforeDestroy: true },
    });
    this.service = new Service(this, 'service', {
      name,
      labels: labelList(labels),
      mode: { global: true },
      endpointSpec: {
        mode: 'dnsrr',
        ports: [
          { targetPort: props.frontendPort, publishedPort: props.publishedFrontendPort, publishMode: 'host', protocol: 'tcp' },
          { targetPort: props.statsPort, publishedPort: props.publishedStatsPort, publishMode: 'host', protocol: 'tcp' },
        ],
      },
      taskSpec: {
        containerSpec: {
          image: props.image,
          hostname: name,
          command: ['haproxy'],
          args: ['-W', '-db', '-f', HAPROXY_CONFIG_PATH],
          env: { [STATS_CREDENTIAL_ENV.user]: props.statsUser, [STATS_CREDENTIAL_ENV.password]: props.statsPassword },
          configs: [{ configId: this.config.id, configName: this.config.name, fileName: HAPROXY_CONFIG_PATH, fileMode: 0o444 }],
          healthcheck: httpHealthcheck(props.statsPort, props.healthPath),
          readOnly: true,
          mounts: [{ type: 'tmpfs', target: '/tmp', tmpfsOptions: { sizeBytes: 8 * 1024 * 1024 } }],
          stopGracePeriod: '10s',
          labels: labelList(labels),
        },
        placement: { constraints: props.constraints },
        resources: { limits: swarmLimits(props.memoryMb, props.cpus) },
        restartPolicy: { condition: 'any', delay: '2s', window: '30s' },
        logDriver: { name: 'json-file', options: { 'max-size': '10m', 'max-file': '3' } },
      },
      // Host-mode ports: the old task must free them before its replacement binds them.
      updateConfig: { parallelism: 1, order: 'stop-first', failureAction: 'rollback', monitor: '10s', delay: '2s' },
      rollbackConfig: { parallelism: 1, order: 'stop-first', monitor: '10s' },
      // No converge_config: the provider refuses it on global services; the deploy command waits for the balancer.
      dependsOn: props.dependsOn,
    });
  }
}
