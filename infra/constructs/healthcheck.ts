/**
 * The container healthcheck of the balancer and of the replicas, the same on both engines: bash's
 * /dev/tcp asks an HTTP path on the container's loopback and wants a 200 status line.
 *
 * bash, not `node -e fetch(...)` or curl: the HAProxy image has neither curl nor wget, and a Node.js
 * process per check costs tens of milliseconds of CPU. Under a replica's CPU limit, on a busy host,
 * that start-up alone can outlast the timeout, and three such checks in a row make the engine kill a
 * healthy replica. bash starts in about a millisecond.
 */
export interface Healthcheck {
  test: string[];
  interval: string;
  timeout: string;
  startPeriod: string;
  retries: number;
}

export function httpHealthcheck(port: number, path: string): Healthcheck {
  return {
    test: [
      'CMD',
      'bash',
      '-c',
      `exec 3<>/dev/tcp/127.0.0.1/${port} && printf 'GET ${path} HTTP/1.0\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '`,
    ],
    interval: '5s',
    timeout: '3s',
    startPeriod: '5s',
    retries: 3,
  };
}
