/**
 * A multi-node Docker Swarm on one machine, for the swarm end-to-end tests: N dockerds, each in a network
 * namespace this harness creates, joined by veth pairs on a bridge it creates.
 *
 * - dockerd starts under `nsenter --net=/var/run/netns/<ns>` (not `ip netns exec`, which remounts /sys and
 *   hides the cgroup mounts: dockerd then fails with "Devices cgroup isn't mounted").
 * - Docker's FORWARD policy DROP would block the bridge: one rule `-I FORWARD -i <bridge> -o <bridge> -j ACCEPT`.
 * - The namespaces get no default route: registry lookups (Swarm pulls a task's image by tag before starting
 *   it) then fail at once instead of waiting for a DNS timeout.
 * - Node 1 runs `swarm init` and is the only manager; the machine's default dockerd never joins.
 * - Each node's containers go under their own cgroup parent, so `crash(i)` can kill everything the node ran.
 * - Every name starts with the harness prefix (default `wsfsw`); cleanup removes exactly what it created:
 *   daemons by pid, the namespaces, the bridge, the iptables rule, the data roots.
 * Every wait is bounded. Needs root.
 */
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export interface SwarmNode {
  readonly index: number;
  readonly netns: string;
  readonly address: string;
  /** unix:///…/docker.sock */
  readonly endpoint: string;
  readonly dir: string;
  /** dockerd's pid (undefined after crash). */
  pid: number | undefined;
  nodeId: string;
}

export interface SwarmNodesOptions {
  /** Names of everything created start with this (netns, bridge, veths). Default `wsfsw`. */
  prefix?: string;
  nodes?: number;
  /** Third octet of 10.213.<x>.0/24 for the bridge. */
  subnet?: number;
  /** Where the daemons' data roots live (short paths: unix socket names are limited to 107 bytes). */
  baseDir?: string;
  log?: (line: string) => void;
}

async function sh(cmd: string, args: string[], timeoutMs = 60_000): Promise<string> {
  const { stdout } = await execFileAsync(cmd, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 });
  return stdout;
}

async function trySh(cmd: string, args: string[], timeoutMs = 60_000): Promise<boolean> {
  try {
    await sh(cmd, args, timeoutMs);
    return true;
  } catch {
    return false;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(entry));
    } catch {
      // gone
    }
  }
  return out;
}

/** Pids whose command line mentions `needle` (e.g. a node's containerd socket path: its shims). */
function pidsWithCmdline(needle: string): number[] {
  const out: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(needle)) out.push(Number(entry));
    } catch {
      // gone
    }
  }
  return out;
}

function cgroupPids(parent: string): number[] {
  const root = `/sys/fs/cgroup/pids/${parent}`;
  const out: number[] = [];
  const walk = (dir: string): void => {
    if (!fs.existsSync(dir)) return;
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) walk(path.join(dir, e.name));
      else if (e.name === 'cgroup.procs') {
        for (const l of fs.readFileSync(path.join(dir, e.name), 'utf8').split('\n')) if (l.trim() !== '') out.push(Number(l));
      }
    }
  };
  walk(root);
  return out;
}

/** cgroup directories go with rmdir, deepest first (their control files cannot be unlinked). */
function removeCgroupTree(dir: string): void {
  if (!fs.existsSync(dir)) return;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) removeCgroupTree(path.join(dir, e.name));
  try {
    fs.rmdirSync(dir);
  } catch {
    // still has a process (cleanup killed them all) or already gone
  }
}

export class SwarmNodes {
  readonly prefix: string;
  readonly bridge: string;
  readonly nodes: SwarmNode[] = [];
  private readonly count: number;
  private readonly subnet: number;
  readonly baseDir: string;
  private readonly log: (line: string) => void;
  private ruleAdded = false;
  private bridgeAdded = false;

  constructor(opts: SwarmNodesOptions = {}) {
    this.prefix = opts.prefix ?? 'wsfsw';
    this.bridge = `${this.prefix}-br`;
    this.count = opts.nodes ?? 3;
    this.subnet = opts.subnet ?? 213;
    this.baseDir = opts.baseDir ?? `/tmp/${this.prefix}`;
    this.log = opts.log ?? ((l) => process.stderr.write(`swarm-nodes: ${l}\n`));
    for (let i = 1; i <= this.count; i++) {
      const dir = path.join(this.baseDir, `n${i}`);
      this.nodes.push({
        index: i,
        netns: `${this.prefix}-n${i}`,
        address: `10.${this.subnet}.0.${10 + i}`,
        endpoint: `unix://${dir}/docker.sock`,
        dir,
        pid: undefined,
        nodeId: '',
      });
    }
  }

  get manager(): SwarmNode {
    const m = this.nodes[0];
    if (m === undefined) throw new Error('no nodes');
    return m;
  }

  node(i: number): SwarmNode {
    const n = this.nodes[i - 1];
    if (n === undefined) throw new Error(`no node ${i}`);
    return n;
  }

  /** `docker -H <node> …` → stdout. */
  docker(i: number, args: string[], timeoutMs = 60_000): Promise<string> {
    return sh('docker', ['-H', this.node(i).endpoint, ...args], timeoutMs);
  }

  /** Builds the network, starts the daemons, forms the swarm. Cleans up what it made if any step fails. */
  async start(): Promise<void> {
    try {
      await this.createNetwork();
      await Promise.all(this.nodes.map((n) => this.startDaemon(n)));
      await this.formSwarm();
    } catch (err) {
      await this.cleanup();
      throw err;
    }
  }

  private async createNetwork(): Promise<void> {
    const gw = `10.${this.subnet}.0.1`;
    await sh('ip', ['link', 'add', this.bridge, 'type', 'bridge']);
    this.bridgeAdded = true;
    await sh('ip', ['addr', 'add', `${gw}/24`, 'dev', this.bridge]);
    await sh('ip', ['link', 'set', this.bridge, 'up']);
    for (const n of this.nodes) {
      const host = `${this.prefix}-v${n.index}`;
      const peer = `${this.prefix}-p${n.index}`;
      await sh('ip', ['netns', 'add', n.netns]);
      await sh('ip', ['link', 'add', host, 'type', 'veth', 'peer', 'name', peer]);
      await sh('ip', ['link', 'set', peer, 'netns', n.netns]);
      await sh('ip', ['link', 'set', host, 'master', this.bridge, 'up']);
      const inNs = (args: string[]): Promise<string> => sh('ip', ['-n', n.netns, ...args]);
      await inNs(['link', 'set', 'lo', 'up']);
      await inNs(['addr', 'add', `${n.address}/24`, 'dev', peer]);
      await inNs(['link', 'set', peer, 'up']);
      // No default route: the nodes reach each other and this machine on the bridge, nothing else. Swarm
      // tries to pull a task's image by tag before it starts it (and the provider asks the registry for a
      // digest on create); with a route out but no NAT, each attempt waited ~20-30 s for a DNS answer
      // that never came. Unreachable, it fails at once, like the registry lookups of an offline host.
    }
    await sh('iptables', ['-I', 'FORWARD', '-i', this.bridge, '-o', this.bridge, '-j', 'ACCEPT']);
    this.ruleAdded = true;
  }

  private async startDaemon(n: SwarmNode): Promise<void> {
    fs.mkdirSync(n.dir, { recursive: true });
    const logFd = fs.openSync(path.join(n.dir, 'dockerd.log'), 'a');
    const child = spawn(
      'nsenter',
      [
        `--net=/var/run/netns/${n.netns}`,
        'dockerd',
        '--data-root', path.join(n.dir, 'root'),
        '--exec-root', path.join(n.dir, 'exec'),
        '-H', n.endpoint,
        '--pidfile', path.join(n.dir, 'docker.pid'),
        '--cgroup-parent', `${this.prefix}-n${n.index}`,
        '--iptables=true',
      ],
      { detached: true, stdio: ['ignore', logFd, logFd] },
    );
    child.unref();
    fs.closeSync(logFd);
    // nsenter execs dockerd: the child's pid is dockerd's.
    n.pid = child.pid;
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      if (n.pid !== undefined && !alive(n.pid)) throw new Error(`dockerd of node ${n.index} exited; see ${n.dir}/dockerd.log`);
      if (await trySh('docker', ['-H', n.endpoint, 'info', '--format', '{{.ID}}'], 5000)) return;
      await sleep(250);
    }
    throw new Error(`dockerd of node ${n.index} did not answer within 60 s; see ${n.dir}/dockerd.log`);
  }

  private async formSwarm(): Promise<void> {
    const m = this.manager;
    await this.docker(1, ['swarm', 'init', '--advertise-addr', m.address, '--listen-addr', `${m.address}:2377`]);
    const token = (await this.docker(1, ['swarm', 'join-token', '-q', 'worker'])).trim();
    await Promise.all(
      this.nodes.slice(1).map((n) => this.docker(n.index, ['swarm', 'join', '--token', token, '--advertise-addr', n.address, '--listen-addr', `${n.address}:2377`, `${m.address}:2377`], 90_000)),
    );
    for (const n of this.nodes) n.nodeId = (await this.docker(n.index, ['info', '--format', '{{.Swarm.NodeID}}'])).trim();
    await this.waitFor('every node Ready', async () => (await this.readyNodes()).length === this.count, 60_000, 250);
  }

  async readyNodes(): Promise<string[]> {
    const out = await this.docker(1, ['node', 'ls', '--format', '{{.ID}} {{.Status}} {{.Availability}}']);
    return out
      .split('\n')
      .filter((l) => l.split(' ')[1] === 'Ready')
      .map((l) => l.split(' ')[0] ?? '');
  }

  async waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number, intervalMs = 1000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let lastErr = '';
    while (Date.now() < deadline) {
      try {
        if (await check()) return;
      } catch (err) {
        lastErr = (err as Error).message;
      }
      await sleep(intervalMs);
    }
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr !== '' ? ` (last error: ${lastErr.slice(0, 300)})` : ''}`);
  }

  /** Swarm node id → harness node index. */
  indexOfNodeId(id: string): number | undefined {
    return this.nodes.find((n) => n.nodeId === id)?.index;
  }

  /**
   * The node's machine dies: SIGKILL its dockerd by pid, then its containerd (dockerd's child), the
   * containerd shims serving it and every process of its containers (its cgroup parent), so nothing
   * it ran keeps running, as on a machine that lost power. Resolves with the time (ms) dockerd was killed.
   */
  async crash(i: number): Promise<number> {
    const n = this.node(i);
    const pid = n.pid;
    if (pid === undefined) throw new Error(`node ${i} is not running`);
    const children = childrenOf(pid);
    const killedAt = Date.now();
    process.kill(pid, 'SIGKILL');
    for (const c of children) {
      try {
        process.kill(c, 'SIGKILL');
      } catch {
        // gone
      }
    }
    for (const p of [...pidsWithCmdline(path.join(n.dir, 'exec', 'containerd')), ...cgroupPids(`${this.prefix}-n${i}`)]) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // gone
      }
    }
    n.pid = undefined;
    const deadline = Date.now() + 10_000;
    while (alive(pid) && Date.now() < deadline) await sleep(100);
    return killedAt;
  }

  /** Starts a crashed node's dockerd again (same data root: it rejoins the swarm) and waits until the manager sees it Ready. */
  async restart(i: number): Promise<void> {
    const n = this.node(i);
    if (n.pid !== undefined) return;
    await this.startDaemon(n);
    await this.waitFor(`node ${i} Ready again`, async () => (await this.readyNodes()).includes(n.nodeId), 90_000);
  }

  /** Names of objects starting with `name` on every node that still answers, by kind. */
  async leftovers(name: string): Promise<string[]> {
    const out: string[] = [];
    for (const n of this.nodes) {
      if (n.pid === undefined) continue;
      const list = async (args: string[], kind: string): Promise<void> => {
        const text = await this.docker(n.index, args).catch(() => '');
        for (const l of text.split('\n')) if (l.startsWith(name)) out.push(`node ${n.index} ${kind} ${l}`);
      };
      await list(['ps', '-a', '--format', '{{.Names}}'], 'container');
      await list(['volume', 'ls', '--format', '{{.Name}}'], 'volume');
      await list(['images', '--format', '{{.Repository}}:{{.Tag}}'], 'image');
      if (n.index === 1) {
        await list(['service', 'ls', '--format', '{{.Name}}'], 'service');
        await list(['config', 'ls', '--format', '{{.Name}}'], 'config');
      }
      await list(['network', 'ls', '--format', '{{.Name}}'], 'network');
    }
    return out;
  }

  /** Removes exactly what start() created, whatever state it is in. Never throws. */
  async cleanup(): Promise<void> {
    for (const n of [...this.nodes].reverse()) {
      if (n.pid !== undefined && alive(n.pid)) {
        // Leave the swarm quickly (workers first), then stop the daemon; SIGKILL after 20 s.
        await trySh('docker', ['-H', n.endpoint, 'swarm', 'leave', '--force'], 20_000);
        const children = childrenOf(n.pid);
        process.kill(n.pid, 'SIGTERM');
        const deadline = Date.now() + 20_000;
        while (alive(n.pid) && Date.now() < deadline) await sleep(200);
        if (alive(n.pid)) process.kill(n.pid, 'SIGKILL');
        for (const c of children) if (alive(c)) process.kill(c, 'SIGKILL');
      }
      n.pid = undefined;
      // Whatever the node still ran (after a crash, or a daemon that did not stop its containers).
      for (const p of [...pidsWithCmdline(path.join(n.dir, 'exec', 'containerd')), ...cgroupPids(`${this.prefix}-n${n.index}`)]) {
        try {
          process.kill(p, 'SIGKILL');
        } catch {
          // gone
        }
      }
    }
    await sleep(500);
    for (const n of this.nodes) {
      // dockerd leaves mounts under its roots (netns files, overlay layers): unmount before removing.
      const mounts = fs
        .readFileSync('/proc/self/mounts', 'utf8')
        .split('\n')
        .map((l) => l.split(' ')[1] ?? '')
        .filter((m) => m.startsWith(`${n.dir}/`))
        .sort((a, b) => b.length - a.length);
      for (const m of mounts) await trySh('umount', ['-l', m]);
      await trySh('ip', ['netns', 'delete', n.netns]);
      await trySh('ip', ['link', 'delete', `${this.prefix}-v${n.index}`]);
      for (const ctl of ['pids', 'cpu', 'cpuacct', 'memory', 'blkio', 'devices', 'freezer', 'cpuset', 'systemd']) {
        const dir = `/sys/fs/cgroup/${ctl}/${this.prefix}-n${n.index}`;
        removeCgroupTree(dir);
      }
      fs.rmSync(n.dir, { recursive: true, force: true });
    }
    if (this.bridgeAdded || (await trySh('ip', ['link', 'show', this.bridge]))) await trySh('ip', ['link', 'delete', this.bridge]);
    this.bridgeAdded = false;
    if (this.ruleAdded || (await trySh('iptables', ['-C', 'FORWARD', '-i', this.bridge, '-o', this.bridge, '-j', 'ACCEPT']))) {
      await trySh('iptables', ['-D', 'FORWARD', '-i', this.bridge, '-o', this.bridge, '-j', 'ACCEPT']);
    }
    this.ruleAdded = false;
    fs.rmSync(this.baseDir, { recursive: true, force: true });
  }
}
