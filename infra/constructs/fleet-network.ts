/**
 * FleetNetwork: the one user-defined bridge network every container of the deployment joins.
 * User-defined bridges give Docker's embedded DNS (127.0.0.11), which the balancer uses to find replicas.
 */
import { Construct } from 'constructs';
import { Network } from '@cdktf/provider-docker/lib/network/index.js';
import { networkName, PREFIX_LABEL } from '../names.js';

export interface FleetNetworkProps {
  readonly prefix: string;
}

export class FleetNetwork extends Construct {
  readonly network: Network;
  /** The network's name, for containers' networks_advanced blocks. */
  readonly name: string;

  constructor(scope: Construct, id: string, props: FleetNetworkProps) {
    super(scope, id);
    this.network = new Network(this, 'network', {
      name: networkName(props.prefix),
      driver: 'bridge',
      labels: [{ label: PREFIX_LABEL, value: props.prefix }],
    });
    this.name = this.network.name;
  }
}
