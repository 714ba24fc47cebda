/**
 * SwarmNetwork: the attachable overlay network every service joins. Docker's embedded DNS on it answers
 * service names; attachable lets a plain `docker run --network` container (a debugging shell, a test
 * client) join it.
 */
import { Construct } from 'constructs';
import { Network } from '@cdktf/provider-docker/lib/network/index.js';
import type { Service } from '@cdktf/provider-docker/lib/service/index.js';
import { networkName, PREFIX_LABEL } from '../names.js';

export interface SwarmNetworkProps {
  readonly prefix: string;
}

export class SwarmNetwork extends Construct {
  readonly network: Network;
  readonly name: string;

  constructor(scope: Construct, id: string, props: SwarmNetworkProps) {
    super(scope, id);
    this.network = new Network(this, 'overlay', {
      name: networkName(props.prefix),
      driver: 'overlay',
      attachable: true,
      labels: [{ label: PREFIX_LABEL, value: props.prefix }],
    });
    this.name = this.network.name;
  }
}

/**
 * Attaches a service to the network by id. Provider 4.x keeps `networks_advanced.id` in its state (and
 * deprecates `name`): a name there plans a replacement of every service on every apply. Provider 3.x has no
 * `id` and keeps the network id in `name`. The bindings are 3.x's, so 4.x gets an override.
 */
export function attachNetwork(service: Service, networkId: string, providerVersion: string): void {
  const major = Number(providerVersion.split('.')[0]);
  service.addOverride('task_spec.networks_advanced', [major >= 4 ? { id: networkId } : { name: networkId }]);
}
