/**
 * WsService: the WebSocket replicas as one replicated Swarm service `<prefix>-ws` with `replicas` tasks.
 *
 * - SERVER_ID and the hostname come from the task slot (`<prefix>-ws-<slot>`), so replicas keep the
 *   docker engine's names and a rescheduled task takes over its slot's identity.
 * - Updates stop an old task before starting its replacement (two tasks must never share a SERVER_ID),
 *   one task at a time, waiting a delay that covers the drain, and roll back when a new task fails.
 * - The stop grace period is longer than the drain window: SIGTERM starts the drain (clients get 1012 and
 *   resume elsewhere), and Swarm only kills a task that outlives it.
 * - Scaling changes only the replica count: an in-place update that leaves running tasks alone (the
 *   environment is one variable, SERVER_ENV_JSON, for that: see the env below); on
 *   scale-down Swarm picks the tasks it stops, and they drain like on an update.
 * - Endpoint mode dnsrr: `<prefix>-ws` and `tasks.<prefix>-ws` resolve to every task's address, which
 *   is how the balancer finds them; no virtual IP (no IPVS here, and IPVS drops idle sockets at 900 s).
 */
import { Construct } from 'constructs';
import type { ITerraformDependable } from 'cdktf';
import { Service } from '@cdktf/provider-docker/lib/service/index.js';
import { stopTimeoutSeconds, WS_PORT } from '../constructs/ws-pool.js';
import { REPLICA_HEALTH_PATH } from '../settings.js';
import { httpHealthcheck } from '../constructs/healthcheck.js';
import { PREFIX_LABEL } from '../names.js';
import { pickReplicaEnv, terraformServerEnvironment, type ReplicaEnvSettings } from '../server-env.js';
import { SERVER_ENV_JSON } from '../../server/src/config.js';
import { wsServiceName, wsTaskName } from './names.js';
import { labelList, swarmLimits } from './limits.js';

export interface WsServiceProps extends ReplicaEnvSettings {
  readonly prefix: string;
  readonly replicas: number;
  readonly image: string;
  readonly memoryMb: number;
  readonly cpus: number;
  readonly dependsOn: ITerraformDependable[];
}

/** Seconds between two task replacements of an update: the drain window plus time for clients to resume. */
export function updateDelaySeconds(drainWindowMs: number): number {
  return Math.ceil(drainWindowMs / 1000) + 3;
}

/** How long the provider waits for the service to converge: every task replaced one at a time, with room. */
export function convergeTimeoutSeconds(replicas: number, drainWindowMs: number): number {
  return Math.max(180, replicas * (stopTimeoutSeconds(drainWindowMs) + updateDelaySeconds(drainWindowMs) + 30));
}

export class WsService extends Construct {
  readonly service: Service;
  readonly name: string;

  constructor(scope: Construct, id: string, props: WsServiceProps) {
    super(scope, id);
    this.name = wsServiceName(props.prefix);
    const taskName = wsTaskName(props.prefix);
    const labels = { [PREFIX_LABEL]: props.prefix, 'io.ws-fleet.component': 'ws' };
    const stopGrace = stopTimeoutSeconds(props.drainWindowMs);
    const delay = `${updateDelaySeconds(props.drainWindowMs)}s`;
    this.service = new Service(this, 'service', {
      name: this.name,
      labels: labelList(labels),
      mode: { replicated: { replicas: props.replicas } },
      endpointSpec: { mode: 'dnsrr' },
      taskSpec: {
        containerSpec: {
          image: props.image,
          hostname: taskName,
          // One variable: the provider sends a map of several in a random order, which Swarm takes for a
          // changed task spec and replaces every task on each update, a scale included (server/src/config.ts).
          env: {
            [SERVER_ENV_JSON]: JSON.stringify(terraformServerEnvironment({
              serverId: taskName,
              port: WS_PORT,
              ...pickReplicaEnv(props),
            })),
          },
          user: '1000:1000',
          readOnly: true,
          mounts: [{ type: 'tmpfs', target: '/tmp', tmpfsOptions: { sizeBytes: 16 * 1024 * 1024 } }],
          healthcheck: httpHealthcheck(WS_PORT, REPLICA_HEALTH_PATH),
          stopSignal: 'SIGTERM',
          stopGracePeriod: `${stopGrace}s`,
          labels: labelList(labels),
        },
        // Spread the replicas over the nodes, so losing one node loses as few sockets as possible.
        placement: { prefs: ['spread=node.id'] },
        resources: { limits: swarmLimits(props.memoryMb, props.cpus) },
        restartPolicy: { condition: 'any', delay: '2s', window: '30s' },
        logDriver: { name: 'json-file', options: { 'max-size': '10m', 'max-file': '3' } },
      },
      updateConfig: { parallelism: 1, order: 'stop-first', delay, failureAction: 'rollback', monitor: '15s', maxFailureRatio: '0' },
      rollbackConfig: { parallelism: 1, order: 'stop-first', delay, monitor: '15s', maxFailureRatio: '0' },
      convergeConfig: { delay: '5s', timeout: `${convergeTimeoutSeconds(props.replicas, props.drainWindowMs)}s` },
      dependsOn: props.dependsOn,
    });
  }
}
