import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  CONNECTION_LOG_FORMAT,
  DEFAULT_LB_MODE,
  findSection,
  formatDuration,
  HAPROXY_NAMES,
  LB_MODES,
  LoadBalancerSettingsError,
  parseConnectionLogLine,
  parseDurationMs,
  parseHaproxySections,
  parseLoadBalancerSettings,
  renderHaproxyConfig,
  renderModeComparison,
  requiredOpenFiles,
  type HaproxySection,
  type LbMode,
  type LoadBalancerSettingsInput,
} from '../../../loadbalancer/src/index.js';
import { checkHaproxyConfig, fetchServerStates, startHaproxy, statsAuthHeaders } from '../../support/haproxy.js';
import { freePort } from '../../support/ports.js';
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import { repoRoot } from '../../support/paths.js';
import { defaultSettings, readImageVersions } from '../../../infra/settings.js';

const dnsBackend = { kind: 'dns' as const, serviceName: 'ws-fleet-ws', port: 8080, slots: 12 };
const staticBackend = {
  kind: 'static' as const,
  servers: [
    { name: 'ws-1', host: '127.0.0.1', port: 9001 },
    { name: 'ws-2', host: '127.0.0.1', port: 9002 },
    { name: 'ws-3', host: 'localhost', port: 9003 },
  ],
};

function has(section: HaproxySection, line: string): boolean {
  return section.lines.includes(line);
}

function linesStarting(section: HaproxySection, prefix: string): string[] {
  return section.lines.filter((l) => l.startsWith(prefix));
}

/** Runs fn and returns the LoadBalancerSettingsError it throws. */
function settingsError(fn: () => unknown): LoadBalancerSettingsError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof LoadBalancerSettingsError, `expected LoadBalancerSettingsError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the settings to be rejected');
}

for (const mode of LB_MODES) {
  for (const backend of [dnsBackend, staticBackend]) {
    void describe(`haproxy.cfg for mode ${mode}, ${backend.kind} backend`, () => {
      const settings: LoadBalancerSettingsInput = {
        mode,
        frontend: { address: '0.0.0.0', port: 8080 },
        stats: { address: '0.0.0.0', port: 8404 },
        backend,
      };
      const config = renderHaproxyConfig(settings);
      const sections = parseHaproxySections(config);
      const global = findSection(sections, 'global');
      const defaults = findSection(sections, 'defaults');
      const frontend = findSection(sections, 'frontend', HAPROXY_NAMES.frontend);
      const stats = findSection(sections, 'frontend', HAPROXY_NAMES.stats);
      const be = findSection(sections, 'backend', HAPROXY_NAMES.backend);

      void it('is accepted by the real haproxy -c with zero warnings', async () => {
        const check = await checkHaproxyConfig(config);
        assert.ok(check.ok, `haproxy -c rejected the config:\n${check.output}\n---\n${config}`);
      });

      void it('logs to stdout and lets HAProxy size maxconn from its file-descriptor limit', () => {
        assert.ok(has(global, 'log stdout format raw local0'));
        assert.deepEqual(linesStarting(global, 'maxconn'), [], 'maxConnections.global "auto": no fixed maxconn');
        assert.deepEqual(linesStarting(frontend, 'maxconn'), [], 'the frontend inherits the derived maxconn');
        assert.ok(has(defaults, 'log global'));
      });

      void it('has WebSocket-safe timeouts', () => {
        assert.ok(has(defaults, 'mode http'));
        assert.ok(has(defaults, 'timeout tunnel 1h'));
        for (const name of ['connect', 'client', 'server', 'client-fin', 'server-fin', 'http-request', 'check']) {
          assert.equal(linesStarting(defaults, `timeout ${name} `).length, 1, `timeout ${name}`);
        }
      });

      void it('forwards the client address and leaves the upgrade headers alone', () => {
        assert.ok(has(frontend, 'option forwardfor'));
        assert.ok(has(frontend, 'bind 0.0.0.0:8080'));
        assert.ok(has(frontend, `default_backend ${HAPROXY_NAMES.backend}`));
        const all = sections.flatMap((s) => s.lines);
        assert.deepEqual(all.filter((l) => /\b(upgrade|connection)\b/i.test(l) && /header/.test(l)), []);
        assert.deepEqual(all.filter((l) => /^option (httpclose|http-server-close|forceclose|http-tunnel)/.test(l)), []);
      });

      void it('writes one parseable JSON log line per connection naming the replica and the duration', () => {
        assert.ok(has(frontend, `log-format '${CONNECTION_LOG_FORMAT}'`));
        assert.match(CONNECTION_LOG_FORMAT, /"server":"%s"/);
        assert.match(CONNECTION_LOG_FORMAT, /"duration_ms":%Tt/);
      });

      void it('serves the stats page and the Prometheus exporter on their own port', () => {
        assert.ok(has(stats, 'bind 0.0.0.0:8404'));
        assert.ok(has(stats, 'http-request use-service prometheus-exporter if { path /metrics }'));
        assert.ok(has(stats, 'stats enable'));
        assert.ok(has(stats, 'stats uri /stats'));
        assert.ok(has(stats, 'no log'));
      });

      void it('checks /readyz and never cuts open tunnels when a replica goes down', () => {
        assert.ok(has(be, 'option httpchk GET /readyz'));
        assert.ok(has(be, 'http-check expect status 200'));
        assert.ok(has(be, 'default-server check inter 1s fastinter 500ms downinter 1s fall 3 rise 2 observe layer4 error-limit 1 on-error mark-down maxconn 30000'));
        // Only the active check and connection failures take a replica out: never an answer's status code.
        assert.deepEqual(sections.flatMap((s) => s.lines).filter((l) => /observe layer7|on-error (fail-check|sudden-death)/.test(l)), []);
        assert.deepEqual(sections.flatMap((s) => s.lines).filter((l) => l.includes('on-marked-down')), []);
        assert.ok(has(be, 'option redispatch 1'));
        assert.ok(has(be, 'retries 3'));
      });

      it('replays only GET upgrades refused with 503 on another replica', () => {
        assert.ok(has(be, 'retry-on conn-failure empty-response 503'));
        assert.ok(has(be, 'http-request disable-l7-retry unless METH_GET'));
      });

      void it(`balances by ${mode === 'roundrobin' ? 'roundrobin' : 'leastconn'}`, () => {
        assert.deepEqual(linesStarting(be, 'balance '), [`balance ${mode === 'roundrobin' ? 'roundrobin' : 'leastconn'}`]);
      });

      if (mode === 'sticky') {
        void it('inserts a sticky cookie on the upgrade response', () => {
          const dynamic = backend.kind === 'dns' ? ' dynamic' : '';
          assert.deepEqual(linesStarting(be, 'cookie '), [`cookie WSFLEET_SRV insert indirect nocache httponly${dynamic}`]);
          assert.equal(linesStarting(be, 'dynamic-cookie-key ').length, backend.kind === 'dns' ? 1 : 0);
        });
      } else {
        void it('sets no persistence cookie', () => {
          assert.deepEqual(linesStarting(be, 'cookie '), []);
          assert.deepEqual(linesStarting(be, 'dynamic-cookie-key'), []);
          assert.deepEqual(be.lines.filter((l) => / cookie /.test(l)), []);
        });
      }

      if (backend.kind === 'dns') {
        void it('discovers replicas through Docker DNS with a server template', () => {
          const resolvers = findSection(sections, 'resolvers', HAPROXY_NAMES.resolvers);
          assert.ok(has(resolvers, 'nameserver ns1 127.0.0.11:53'));
          assert.ok(has(resolvers, 'hold valid 1s'));
          assert.ok(has(resolvers, 'timeout resolve 1s'));
          assert.deepEqual(linesStarting(be, 'server-template '), [
            `server-template ws 1-12 ws-fleet-ws:8080 resolvers ${HAPROXY_NAMES.resolvers} init-addr none resolve-prefer ipv4`,
          ]);
          assert.deepEqual(linesStarting(be, 'server '), []);
        });
      } else {
        void it('lists the static servers', () => {
          const cookie = (n: string): string => (mode === 'sticky' ? ` cookie ${n}` : '');
          assert.deepEqual(linesStarting(be, 'server '), [
            `server ws-1 127.0.0.1:9001${cookie('ws-1')}`,
            `server ws-2 127.0.0.1:9002${cookie('ws-2')}`,
            `server ws-3 localhost:9003${cookie('ws-3')}`,
          ]);
          assert.equal(sections.filter((s) => s.type === 'resolvers').length, 0);
        });
      }
    });
  }
}

void describe('haproxy.cfg hardening, run by the real haproxy', () => {
  const auth = { userEnv: 'LB_STATS_USER', passwordEnv: 'LB_STATS_PASSWORD' };
  const creds = { LB_STATS_USER: 'statsAdmin', LB_STATS_PASSWORD: 'pw0123456789abcdef' };

  void it('names the stats credentials only as environment variables; haproxy -c needs them set', async () => {
    const config = renderHaproxyConfig({ backend: dnsBackend, stats: { auth } });
    const sections = parseHaproxySections(config);
    assert.ok(has(findSection(sections, 'userlist', HAPROXY_NAMES.statsUsers), 'user "${LB_STATS_USER}" insecure-password "${LB_STATS_PASSWORD}"'));
    assert.ok(has(findSection(sections, 'frontend', HAPROXY_NAMES.stats), `http-request auth realm ws-fleet-stats unless { http_auth(${HAPROXY_NAMES.statsUsers}) }`));
    const withEnv = await checkHaproxyConfig(config, creds);
    assert.ok(withEnv.ok, withEnv.output);
    // Without the variables the config is refused: a balancer never starts with an open stats page.
    const withoutEnv = await checkHaproxyConfig(config, { LB_STATS_USER: '', LB_STATS_PASSWORD: '' });
    assert.equal(withoutEnv.ok, false);
  });

  void it('rejects bad environment names and limits, naming the field', () => {
    assert.match(settingsError(() => renderHaproxyConfig({ backend: dnsBackend, stats: { auth: { userEnv: 'lower', passwordEnv: 'P' } } })).message, /stats\.auth\.userEnv/);
    assert.match(settingsError(() => renderHaproxyConfig({ backend: dnsBackend, rateLimit: { connectionsPerSourcePer10s: -1 } })).message, /rateLimit\.connectionsPerSourcePer10s/);
  });

  void it('a replica answering 500 and 503 to clients stays UP; stats need credentials; /healthz does not; past the per-source connection rate: 429', { timeout: 60_000 }, async () => {
    // A stand-in replica: /readyz 200, every other path 500 (or 503 for /busy), as a buggy or busy replica would.
    const backend: Server = createServer((req, res) => {
      const status = req.url === '/readyz' ? 200 : req.url === '/busy' ? 503 : 500;
      res.writeHead(status, { 'content-type': 'application/json' }).end('{"error":"x"}');
    });
    const backendPort = await freePort();
    await new Promise<void>((r) => backend.listen(backendPort, '127.0.0.1', r));
    const frontendPort = await freePort();
    const statsPort = await freePort();
    const limit = 40;
    const config = renderHaproxyConfig({
      frontend: { address: '127.0.0.1', port: frontendPort },
      stats: { address: '127.0.0.1', port: statsPort, auth },
      backend: { kind: 'static', servers: [{ name: 'only', host: '127.0.0.1', port: backendPort }] },
      rateLimit: { connectionsPerSourcePer10s: limit },
    });
    const lb = await startHaproxy({ config, frontendPort, name: 'haproxy-hardening', env: creds });
    const statsUrl = `http://127.0.0.1:${statsPort}/stats`;
    const basic = { user: creds.LB_STATS_USER, password: creds.LB_STATS_PASSWORD };
    try {
      const waitUp = async (): Promise<void> => {
        for (let i = 0; i < 100; i++) {
          if ((await fetchServerStates(statsUrl, HAPROXY_NAMES.backend, basic)).get('only')?.status === 'UP') return;
          await new Promise((r) => setTimeout(r, 100));
        }
        assert.fail('the replica never came UP');
      };
      await waitUp();
      // Stats and exporter: 401 without or with wrong credentials, 200 with them; the health path is open.
      assert.equal((await fetch(statsUrl)).status, 401);
      assert.equal((await fetch(`http://127.0.0.1:${statsPort}/metrics`)).status, 401);
      assert.equal((await fetch(statsUrl, { headers: statsAuthHeaders({ user: basic.user, password: 'wrong' }) })).status, 401);
      assert.equal((await fetch(statsUrl, { headers: statsAuthHeaders(basic) })).status, 200);
      assert.equal((await fetch(`http://127.0.0.1:${statsPort}/metrics`, { headers: statsAuthHeaders(basic) })).status, 200);
      assert.equal((await fetch(`http://127.0.0.1:${statsPort}/healthz`)).status, 200);

      // Errors answered to clients, one connection each (below the rate limit): the replica stays UP.
      const statuses: number[] = [];
      for (let i = 0; i < 30; i++) {
        const res = await fetch(`http://127.0.0.1:${frontendPort}/${i % 2 === 0 ? 'boom' : 'busy'}`, { headers: { connection: 'close' } });
        statuses.push(res.status);
        await res.arrayBuffer();
      }
      assert.deepEqual([...new Set(statuses)].sort(), [500, 503]);
      assert.equal((await fetchServerStates(statsUrl, HAPROXY_NAMES.backend, basic)).get('only')?.status, 'UP', 'client-visible errors never mark a replica down');

      // Past `limit` new connections in 10 s from one address: 429 with Retry-After and a JSON body.
      let refused: Response | undefined;
      for (let i = 0; i < limit && refused === undefined; i++) {
        const res = await fetch(`http://127.0.0.1:${frontendPort}/boom`, { headers: { connection: 'close' } });
        if (res.status === 429) refused = res;
        else await res.arrayBuffer();
      }
      assert.ok(refused, 'the per-source connection rate limit answered 429');
      assert.equal(refused.headers.get('retry-after'), '10');
      assert.deepEqual(await refused.json(), { error: 'rate_limited', message: 'too many new connections from this address; retry later' });
      assert.equal((await fetchServerStates(statsUrl, HAPROXY_NAMES.backend, basic)).get('only')?.status, 'UP');

      // A connection refused by the replica (it is gone) takes it out at once (observe layer4).
      await new Promise<void>((r) => backend.close(() => { r(); }));
      backend.closeAllConnections();
      const sock = connect(frontendPort, '127.0.0.1');
      sock.on('error', () => undefined);
      sock.end('GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      let down = false;
      for (let i = 0; i < 50 && !down; i++) {
        down = (await fetchServerStates(statsUrl, HAPROXY_NAMES.backend, basic)).get('only')?.status.startsWith('DOWN') === true;
        if (!down) await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(down, 'a gone replica is marked down');
    } finally {
      await lb.stop();
      backend.close();
    }
  });
});

void describe('haproxy.cfg settings', () => {
  void it('takes bind addresses, ports, timeouts and limits from the settings', async () => {
    const config = renderHaproxyConfig({
      mode: 'sticky',
      frontend: { address: '::', port: 18080 },
      stats: { address: '127.0.0.1', port: 18404, path: '/lb-stats', metricsPath: '/prom' },
      backend: { ...dnsBackend, slots: 5, resolver: { nameservers: ['127.0.0.1:5353'], resolveInterval: '500ms' } },
      timeouts: { tunnel: '2h', client: 45_000, connect: '3s' },
      maxConnections: { global: 200_000, frontend: 150_000, perServer: 50_000 },
      sticky: { cookieName: 'LB', dynamicCookieKey: 'per-deployment-key-123' },
      adminSocket: '/tmp/wsf-admin.sock',
      hardStopAfter: '10m',
      retries: 5,
    });
    const sections = parseHaproxySections(config);
    const global = findSection(sections, 'global');
    const defaults = findSection(sections, 'defaults');
    const frontend = findSection(sections, 'frontend', HAPROXY_NAMES.frontend);
    const stats = findSection(sections, 'frontend', HAPROXY_NAMES.stats);
    const be = findSection(sections, 'backend', HAPROXY_NAMES.backend);
    const resolvers = findSection(sections, 'resolvers', HAPROXY_NAMES.resolvers);
    assert.ok(has(frontend, 'bind [::]:18080'));
    assert.ok(has(frontend, 'maxconn 150000'));
    assert.ok(has(global, 'maxconn 200000'));
    assert.ok(has(global, 'stats socket /tmp/wsf-admin.sock mode 600 level admin'));
    assert.ok(has(global, 'hard-stop-after 10m'));
    assert.ok(has(be, 'retries 5'));
    assert.ok(has(stats, 'bind 127.0.0.1:18404'));
    assert.ok(has(stats, 'stats uri /lb-stats'));
    assert.ok(has(stats, 'http-request use-service prometheus-exporter if { path /prom }'));
    assert.ok(has(defaults, 'timeout tunnel 2h'));
    assert.ok(has(defaults, 'timeout client 45s'));
    assert.ok(has(defaults, 'timeout connect 3s'));
    assert.ok(has(resolvers, 'nameserver ns1 127.0.0.1:5353'));
    assert.ok(has(resolvers, 'timeout resolve 500ms'));
    assert.ok(has(be, 'cookie LB insert indirect nocache httponly dynamic'));
    assert.ok(has(be, 'dynamic-cookie-key per-deployment-key-123'));
    assert.ok(linesStarting(be, 'default-server ')[0]?.endsWith(' maxconn 50000'));
    assert.ok(linesStarting(be, 'server-template ')[0]?.startsWith('server-template ws 1-5 '));
    const check = await checkHaproxyConfig(config);
    assert.ok(check.ok, check.output);
  });

  void it('fixes maxconn when given a number, and says how many file descriptors that needs', () => {
    const settings = parseLoadBalancerSettings({ backend: dnsBackend, maxConnections: { global: 100_000 } });
    assert.equal(requiredOpenFiles(settings), 201_024);
    assert.equal(requiredOpenFiles(parseLoadBalancerSettings({ backend: dnsBackend })), undefined);
    const sections = parseHaproxySections(renderHaproxyConfig(settings));
    assert.ok(has(findSection(sections, 'global'), 'maxconn 100000'));
    assert.ok(has(findSection(sections, 'frontend', HAPROXY_NAMES.frontend), 'maxconn 100000'));
    assert.match(
      settingsError(() => renderHaproxyConfig({ backend: dnsBackend, maxConnections: { global: 'lots' as unknown as number } })).message,
      /maxConnections\.global: must be "auto" or a whole number from 100 to 4000000 \(got "lots"\)/,
    );
    assert.match(
      settingsError(() => renderHaproxyConfig({ backend: dnsBackend, maxConnections: { global: 1000, frontend: 2000 } })).message,
      /maxConnections\.frontend: must not exceed maxConnections\.global \(1000\) \(got 2000\)/,
    );
  });

  void it('defaults to the one default mode (the deployment\'s too) and detects a draining replica within 3 s', () => {
    const s = parseLoadBalancerSettings({ backend: dnsBackend });
    assert.equal(s.mode, DEFAULT_LB_MODE);
    assert.equal(defaultSettings(readImageVersions()).lbMode, DEFAULT_LB_MODE);
    assert.ok(s.timeouts.tunnel >= 3_600_000);
    const worstCaseDetectMs = s.healthCheck.interval + (s.healthCheck.fall - 1) * s.healthCheck.fastInterval + s.timeouts.check;
    assert.ok(worstCaseDetectMs <= 3000, `detection bound ${worstCaseDetectMs} ms`);
  });

  void it('renders the same text for the same settings, and accepts its own parsed settings', () => {
    const input: LoadBalancerSettingsInput = { mode: 'roundrobin', backend: staticBackend };
    assert.equal(renderHaproxyConfig(input), renderHaproxyConfig(input));
    assert.equal(renderHaproxyConfig(parseLoadBalancerSettings(input)), renderHaproxyConfig(input));
  });

  void it('rejects an invalid mode at render time, naming the field and the value', () => {
    const err = settingsError(() => renderHaproxyConfig({ mode: 'random' as LbMode, backend: dnsBackend }));
    assert.match(err.message, /mode: must be one of roundrobin, leastconn, sticky \(got "random"\)/);
  });

  void it('rejects invalid timeouts at render time, naming the field and the value', () => {
    const bad = settingsError(() => renderHaproxyConfig({ backend: dnsBackend, timeouts: { tunnel: 'forever' } }));
    assert.match(bad.message, /timeouts\.tunnel: is not a duration .*\(got "forever"\)/);
    const short = settingsError(() => renderHaproxyConfig({ backend: dnsBackend, timeouts: { tunnel: '10ms', client: -5 } }));
    assert.match(short.message, /timeouts\.tunnel: must be between 1000 ms and \d+ ms \(got "10ms"\)/);
    assert.match(short.message, /timeouts\.client: is not a duration .*\(got -5\)/);
    const huge = settingsError(() => renderHaproxyConfig({ backend: dnsBackend, timeouts: { tunnel: '30d' } }));
    assert.match(huge.message, /timeouts\.tunnel: must be between .*\(got "30d"\)/);
  });

  void it('rejects unknown keys, bad addresses, ports and names', () => {
    const err = settingsError(() =>
      renderHaproxyConfig({
        frontend: { address: 'localhost', port: 70_000 },
        backend: { kind: 'dns', serviceName: 'bad name!' },
        timeouts: { tunel: '1h' } as never,
      }),
    );
    assert.deepEqual(
      err.issues.map((i) => i.split(':')[0]),
      ['frontend.address', 'frontend.port', 'backend.serviceName', 'timeouts.tunel'],
    );
    assert.match(err.message, /frontend\.address: .*\(got "localhost"\)/);
    assert.match(err.message, /frontend\.port: .*\(got 70000\)/);
    assert.match(err.message, /timeouts\.tunel: unknown setting/);
  });

  void it('rejects a missing backend, an empty server list, clashing ports and hides the cookie key', () => {
    assert.match(settingsError(() => renderHaproxyConfig({} as LoadBalancerSettingsInput)).message, /backend: must be .*\(got missing\)/);
    assert.match(settingsError(() => renderHaproxyConfig({ backend: { kind: 'static', servers: [] } })).message, /backend\.servers: must list at least one server/);
    assert.match(
      settingsError(() => renderHaproxyConfig({ backend: dnsBackend, frontend: { port: 9000 }, stats: { port: 9000 } })).message,
      /stats\.port: must differ from frontend\.port/,
    );
    const keyErr = settingsError(() => renderHaproxyConfig({ backend: dnsBackend, sticky: { dynamicCookieKey: 'short' } }));
    assert.match(keyErr.message, /sticky\.dynamicCookieKey: .*\(got \(value hidden\)\)/);
    assert.doesNotMatch(keyErr.message, /short/);
  });
});

void describe('durations, log lines and the mode comparison', () => {
  void it('parses and formats HAProxy durations', () => {
    assert.equal(parseDurationMs('1h'), 3_600_000);
    assert.equal(parseDurationMs('90s'), 90_000);
    assert.equal(parseDurationMs('250'), 250);
    assert.equal(parseDurationMs(1500), 1500);
    assert.equal(parseDurationMs('1.5s'), undefined);
    assert.equal(parseDurationMs('500us'), undefined);
    assert.equal(formatDuration(3_600_000), '1h');
    assert.equal(formatDuration(90_000), '90s');
    assert.equal(formatDuration(1500), '1500ms');
    assert.equal(formatDuration(86_400_000 * 2), '2d');
  });

  void it('parses a connection log line and skips HAProxy event lines', () => {
    const line =
      '{"kind":"connection","ts":1700000000.123,"client_ip":"127.0.0.1","client_port":50000,"frontend":"ws_in","backend":"ws_replicas",' +
      '"server":"ws-2","server_ip":"127.0.0.1","server_port":"9002","method":"GET","path":"/ws","status":101,"duration_ms":5000,' +
      '"queue_ms":0,"connect_ms":0,"response_ms":3,"bytes_in":300,"bytes_out":200,"termination":"--","retries":"+1","frontend_conns":1,"server_conns":1}';
    const parsed = parseConnectionLogLine(line);
    assert.equal(parsed?.server, 'ws-2');
    assert.equal(parsed.duration_ms, 5000);
    assert.equal(parsed.retries, '+1');
    assert.equal(parseConnectionLogLine('[WARNING] Server ws_replicas/ws-2 is DOWN'), undefined);
  });

  void it('renders a comparison of the three modes', () => {
    const table = renderModeComparison();
    for (const mode of LB_MODES) assert.match(table, new RegExp(`\\| \`${mode}\` \\|`));
    assert.ok(table.split('\n').length < 25, 'fits on one screen');
  });

  void it('is the table in loadbalancer/README.md', () => {
    const readme = readFileSync(join(repoRoot, 'loadbalancer', 'README.md'), 'utf8');
    assert.ok(readme.includes(renderModeComparison()), 'README mode table out of date: paste renderModeComparison() output');
  });
});
