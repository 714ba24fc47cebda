/**
 * SwarmNetwork: the attachable overlay network every service joins. Docker's embedded DNS on it answers
 * service names; attachable lets a plain `docker run --network` container (a debugging shell, a test
 * client) join it.
 */
import { Construct } from 'constructs';
import { Network } from '@cdktf/provider-docker/lib/network/index.js';
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
