/**
 * The three balancing modes, side by side: what each does and when to pick it.
 * The same text feeds the README and `renderModeComparison()`.
 */
import type { LbMode } from './settings.js';

export interface ModeGuide {
  /** The HAProxy directives the mode renders to. */
  readonly haproxy: string;
  /** What happens to a new connection. */
  readonly behaviour: string;
  /** When to choose it. */
  readonly useWhen: string;
  /** What to watch out for. */
  readonly caveat: string;
}

export const MODE_GUIDE: Readonly<Record<LbMode, ModeGuide>> = {
  roundrobin: {
    haproxy: 'balance roundrobin',
    behaviour: 'Each new connection goes to the next ready replica in turn.',
    useWhen: 'Connections are short or similar and you want an even spread of new connections, e.g. tests and demos (the default).',
    caveat: 'Counts connections made, not connections open: after a scale-up or a restart, old replicas keep their load.',
  },
  leastconn: {
    haproxy: 'balance leastconn',
    behaviour: 'Each new connection goes to the ready replica holding the fewest open connections.',
    useWhen: 'Long-lived WebSockets: a fresh replica fills up first, so load evens out after scaling or a drain.',
    caveat: 'A reconnecting client may land on a different replica each time (ws-fleet routes by user, so that is fine).',
  },
  sticky: {
    haproxy: 'balance leastconn + cookie <name> insert indirect nocache (dynamic) + option redispatch',
    behaviour:
      'The first connection is placed by leastconn and the 101 upgrade response sets a cookie naming the replica; a client that sends it back returns there while that replica is up and ready.',
    useWhen: 'Reconnects should find warm per-replica state (local caches, resumable in-memory sessions).',
    caveat:
      'Clients must keep cookies (browsers do; other clients must replay Set-Cookie). A draining or dead replica loses its clients to leastconn, which issues them a new cookie.',
  },
};

/** A one-screen Markdown table comparing the modes. */
export function renderModeComparison(): string {
  const rows = (Object.keys(MODE_GUIDE) as LbMode[]).map((mode) => {
    const g = MODE_GUIDE[mode];
    return `| \`${mode}\` | ${g.behaviour} | ${g.useWhen} | ${g.caveat} |`;
  });
  return [
    '| mode | a new connection goes... | use it when | watch out |',
    '| --- | --- | --- | --- |',
    ...rows,
    '',
    'Every mode: only replicas whose `GET /readyz` answers 200 get new connections; open sockets are never cut by the balancer when a replica turns unready.',
  ].join('\n');
}
