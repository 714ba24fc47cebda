/**
 * The deployment's settings: typed, validated and resolved in this one place.
 *
 * Sources, later ones win:
 *   1. defaults below (image tags from images/versions.json),
 *   2. the settings file `.ws-fleet/settings/<prefix>.json` (written by `npm run scale` / `npm run lb`),
 *   3. environment variables `WSFLEET_<SETTING_IN_SNAKE_CASE>` (e.g. WSFLEET_REPLICAS=5, WSFLEET_LB_MODE=sticky).
 * The prefix itself only comes from WSFLEET_PREFIX (default DEFAULT_PREFIX, infra/paths.ts): it picks the settings file.
 *
 * Every error names the setting, the bad value and where the value came from.
 */
import fs from 'node:fs';
import { z } from 'zod';
import { namespaceNameProblem, namespacePolicySchema } from '../server/src/namespaces.js';
import { HISTORY_DEFAULTS } from '../server/src/store-capacity.js';
import { imageVersionsFile, prefixFromEnv, settingsFile } from './paths.js';
import { maxConnectionsFor, memoryMbFor } from './capacity.js';
import { DEFAULT_LB_MODE, LB_MODES } from '../loadbalancer/src/index.js';

export const MAX_REPLICAS = 64;

const port = z.number().int().min(1).max(65535);
/** The port the replicas serve clients on inside their containers (infra/constructs/ws-pool.ts uses it). */
export const REPLICA_PORT = 8080;
/** The replica's liveness path (server/src/http-api.ts): 200 while the process serves HTTP. */
export const REPLICA_HEALTH_PATH = '/healthz';

/**
 * The namespaces of rooms (`<namespace>:<name>`): who may join, read history and publish, and what is
 * kept. Each policy is checked with the server's own schema (server/src/namespaces.ts: the NAMESPACES
 * contract); a namespace not listed denies everything.
 */
export const namespacesSchema = z.record(z.string(), namespacePolicySchema).superRefine((namespaces, ctx) => {
  for (const name of Object.keys(namespaces)) {
    const problem = namespaceNameProblem(name);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', path: [name], input: name, message: problem });
  }
});
export type Namespaces = z.infer<typeof namespacesSchema>;

/**
 * The namespaces a deployment gets unless it says otherwise: `chat`, open to every authenticated user
 * (join, read its history as a member, publish as a member), so the demo works. Nothing else is public:
 * `default` (rooms without a namespace) and every other namespace deny everything until configured.
 */
export const DEFAULT_NAMESPACES: Namespaces = {
  chat: { join: 'authenticated', history: 'members', publish: 'members', keepHistory: true, historyMaxAgeSec: HISTORY_DEFAULTS.maxAgeSec, historyMaxMsgs: 10_000 },
};

const imageRef = z.string().regex(/^[a-z0-9][a-z0-9._/-]*:[A-Za-z0-9._-]+$/, 'must be an image reference name:tag');

/** Settings a file or the environment may set (the prefix is separate: it selects the file). */
export const tunableSettingsSchema = z
  .object({
    replicas: z
      .number({ error: 'must be a whole number' })
      .int({ error: `must be a whole number from 1 to ${MAX_REPLICAS}` })
      .min(1, { error: `must be from 1 to ${MAX_REPLICAS}` })
      .max(MAX_REPLICAS, { error: `must be from 1 to ${MAX_REPLICAS} (the balancer's server-template has ${MAX_REPLICAS} slots)` }),
    lbMode: z.enum(LB_MODES),
    natsNodes: z.union([z.literal(1), z.literal(3)], { error: 'must be 1 or 3' }),
    bindAddress: z.ipv4({ error: 'must be an IPv4 address such as 127.0.0.1' }),
    balancerPort: port,
    statsPort: port,
    nodeImage: imageRef,
    haproxyImage: imageRef,
    natsImage: imageRef,
    wsMemoryMb: z.number().int().min(64).max(16384),
    wsCpus: z.number().min(0.05).max(64),
    natsMemoryMb: z.number().int().min(64).max(16384),
    natsCpus: z.number().min(0.05).max(64),
    lbMemoryMb: z.number().int().min(32).max(16384),
    lbCpus: z.number().min(0.05).max(64),
    drainWindowMs: z.number().int().min(0).max(300_000),
    /** Connections one replica accepts (MAX_CONNECTIONS); must fit wsMemoryMb (infra/capacity.ts). */
    maxConnections: z.number().int().min(1).max(1_000_000),
    /** Room namespaces and their permissions (rendered into the replicas' NAMESPACES as JSON). */
    namespaces: namespacesSchema,
    /** The longest lifetime (exp - iat) a user token may have; longer ones are refused. */
    tokenMaxLifetimeSec: z.number().int().min(60).max(30 * 24 * 3600),
    /** The replicas' Prometheus /metrics port: on the fleet network only, never routed by the balancer. */
    metricsPort: z.number().int().min(1024).max(65535),
    /** New connections one source address may open per 10 s through the balancer (429 past it); 0 = no limit. */
    lbConnRatePerSourcePer10s: z.number().int().min(0).max(10_000_000),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']),
    /** Direct messages' delivery class (DIRECT_DELIVERY): durable (stored, resumable) or volatile (not stored, at most once). */
    directDelivery: z.enum(['durable', 'volatile'], { error: 'must be "durable" or "volatile"' }),
    /** 0 = NATS ports not published. Otherwise node n's client port is published at base+n-1 and its monitor port at base+100+n-1. */
    debugNatsPortBase: z.number().int().min(0).max(65000),
  })
  .strict()
  // The engine settings (docker | swarm) are their own block at the end of this file.
  .extend(engineSettingsShape());

export type TunableSettings = z.infer<typeof tunableSettingsSchema>;

const prefixSchema = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,23}[a-z0-9]$/, 'must be 2-25 chars of a-z, 0-9 and "-", starting with a letter');

export interface Settings extends TunableSettings {
  readonly prefix: string;
}

export type SettingKey = keyof TunableSettings;

export class SettingsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SettingsError';
  }
}

interface ImageVersions {
  node: string;
  haproxy: string;
  nats: string;
}

const imageVersionsSchema = z.object({ node: z.string(), haproxy: z.string(), nats: z.string() });

export function readImageVersions(file: string = imageVersionsFile): ImageVersions {
  const parsed = imageVersionsSchema.safeParse(JSON.parse(fs.readFileSync(file, 'utf8')));
  if (!parsed.success) throw new SettingsError(`${file}: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

export function defaultSettings(images: ImageVersions): TunableSettings {
  return {
    replicas: 3,
    lbMode: DEFAULT_LB_MODE,
    natsNodes: 3,
    bindAddress: '127.0.0.1',
    balancerPort: 8080,
    statsPort: 8404,
    nodeImage: images.node,
    haproxyImage: images.haproxy,
    natsImage: images.nats,
    wsMemoryMb: 256,
    wsCpus: 0.5,
    natsMemoryMb: 256,
    natsCpus: 0.5,
    lbMemoryMb: 256,
    lbCpus: 0.5,
    drainWindowMs: 5000,
    // What 256 MiB holds with room to spare (infra/capacity.ts: about 4,900).
    maxConnections: 3000,
    namespaces: DEFAULT_NAMESPACES,
    tokenMaxLifetimeSec: 24 * 3600,
    metricsPort: 9091,
    // Every client on the host shares one source address behind Docker's port publishing: be generous.
    lbConnRatePerSourcePer10s: 1000,
    logLevel: 'info',
    directDelivery: 'durable',
    debugNatsPortBase: 0,
    ...engineDefaults(),
  };
}

const SETTING_KEYS = Object.keys(tunableSettingsSchema.shape) as SettingKey[];
const NUMERIC_KEYS: ReadonlySet<SettingKey> = new Set<SettingKey>([
  'replicas', 'natsNodes', 'balancerPort', 'statsPort', 'wsMemoryMb', 'wsCpus', 'natsMemoryMb', 'natsCpus',
  'lbMemoryMb', 'lbCpus', 'drainWindowMs', 'maxConnections', 'debugNatsPortBase', 'tokenMaxLifetimeSec', 'metricsPort',
  'lbConnRatePerSourcePer10s',
]);
/** Settings given as JSON in the environment or on the command line. */
const JSON_KEYS: ReadonlySet<SettingKey> = new Set<SettingKey>(['namespaces']);

/** `balancerPort` → `WSFLEET_BALANCER_PORT`. */
export function envNameFor(key: SettingKey): string {
  return `WSFLEET_${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
}

export function isSettingKey(name: string): name is SettingKey {
  return (SETTING_KEYS as string[]).includes(name);
}

/** Turns a command-line / environment string into the setting's type (numbers for numeric settings, JSON for objects). */
export function parseSettingValue(key: SettingKey, raw: string, source: string): unknown {
  if (JSON_KEYS.has(key)) {
    try {
      return JSON.parse(raw) as unknown;
    } catch (err) {
      throw new SettingsError(`invalid setting ${key} (from ${source}): not valid JSON (${(err as Error).message})`);
    }
  }
  if (!NUMERIC_KEYS.has(key)) return raw.trim();
  const n = Number(raw.trim());
  if (raw.trim() === '' || !Number.isFinite(n)) {
    throw new SettingsError(`invalid setting ${key}=${JSON.stringify(raw)} (from ${source}): must be a number`);
  }
  return n;
}

type Sources = Partial<Record<SettingKey, string>>;

function describeIssue(issue: z.core.$ZodIssue, values: Record<string, unknown>, sources: Sources): string {
  const key = issue.path[0];
  if (typeof key !== 'string') return issue.message;
  if (!isSettingKey(key)) return `unknown setting ${JSON.stringify(key)} (known: ${SETTING_KEYS.join(', ')})`;
  const source = sources[key] ?? 'defaults';
  if (issue.path.length > 1) {
    // Inside an object setting (namespaces.chat.join): name the exact field and its value.
    let value: unknown = values[key];
    for (const p of issue.path.slice(1)) value = typeof value === 'object' && value !== null ? (value as Record<PropertyKey, unknown>)[p] : undefined;
    const field = issue.path.map(String).join('.');
    const keys = issue.code === 'unrecognized_keys' ? ` unknown ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}` : '';
    // A list given as one comma-separated string (from the environment) has no element to point at: show it whole.
    if (value === undefined && typeof values[key] === 'string') {
      return `invalid setting ${key}=${JSON.stringify(values[key])} (entry ${issue.path.slice(1).map(String).join('.')}, from ${source}): ${issue.message}${keys}`;
    }
    return `invalid setting ${field}=${value === undefined ? 'missing' : JSON.stringify(value)} (from ${source}): ${issue.message}${keys}`;
  }
  return `invalid setting ${key}=${JSON.stringify(values[key])} (from ${source}): ${issue.message}`;
}

export interface ResolveInput {
  env: NodeJS.ProcessEnv;
  /** Parsed contents of the settings file, or undefined when there is none. */
  file?: unknown;
  fileName?: string;
  /** How errors name where the file's values came from (default "file <fileName>"). */
  fileLabel?: string;
  images: ImageVersions;
}

/** Pure: merges defaults, file and environment, and validates the result. Throws SettingsError. */
export function resolveSettings(input: ResolveInput): Settings {
  const prefixRaw = prefixFromEnv(input.env);
  const prefix = prefixSchema.safeParse(prefixRaw);
  if (!prefix.success) {
    throw new SettingsError(
      `invalid setting prefix=${JSON.stringify(prefixRaw)} (from env WSFLEET_PREFIX): ${prefix.error.issues[0]?.message ?? 'invalid'}`,
    );
  }

  const values: Record<string, unknown> = { ...defaultSettings(input.images) };
  const sources: Sources = {};

  if (input.file !== undefined) {
    const fileLabel = input.fileLabel ?? `file ${input.fileName ?? 'settings'}`;
    if (typeof input.file !== 'object' || input.file === null || Array.isArray(input.file)) {
      throw new SettingsError(`${fileLabel}: must hold a JSON object of settings`);
    }
    for (const [k, v] of Object.entries(input.file)) {
      if (!isSettingKey(k)) throw new SettingsError(`${fileLabel}: unknown setting ${JSON.stringify(k)} (known: ${SETTING_KEYS.join(', ')})`);
      values[k] = v;
      sources[k] = fileLabel;
    }
  }

  for (const key of SETTING_KEYS) {
    const name = envNameFor(key);
    const raw = input.env[name];
    if (raw === undefined || raw === '') continue;
    values[key] = parseSettingValue(key, raw, `env ${name}`);
    sources[key] = `env ${name}`;
  }

  const parsed = tunableSettingsSchema.safeParse(values);
  if (!parsed.success) {
    throw new SettingsError(parsed.error.issues.map((i) => describeIssue(i, values, sources)).join('\n'));
  }
  const s = parsed.data;
  if (s.maxConnections > maxConnectionsFor(s.wsMemoryMb)) {
    throw new SettingsError(
      `invalid settings maxConnections=${s.maxConnections} (from ${sources.maxConnections ?? 'defaults'}) with wsMemoryMb=${s.wsMemoryMb} ` +
        `(from ${sources.wsMemoryMb ?? 'defaults'}): a replica holds about ${maxConnectionsFor(s.wsMemoryMb)} connections in ${s.wsMemoryMb} MiB ` +
        `(measured cost per connection: infra/capacity.ts); lower maxConnections or raise wsMemoryMb to at least ${memoryMbFor(s.maxConnections)}`,
    );
  }
  if (s.metricsPort === REPLICA_PORT) {
    throw new SettingsError(`invalid setting metricsPort=${s.metricsPort}: equals the replicas' client port ${REPLICA_PORT}; metrics must be on a port the balancer does not route`);
  }
  if (s.balancerPort === s.statsPort) {
    throw new SettingsError(`invalid setting statsPort=${s.statsPort}: equals balancerPort; the two published ports must differ`);
  }
  if (s.debugNatsPortBase !== 0) {
    const used = [s.balancerPort, s.statsPort];
    for (let n = 0; n < s.natsNodes; n++) {
      for (const p of [s.debugNatsPortBase + n, s.debugNatsPortBase + 100 + n]) {
        if (used.includes(p)) {
          throw new SettingsError(`invalid setting debugNatsPortBase=${s.debugNatsPortBase}: NATS debug port ${p} collides with the balancer or stats port`);
        }
      }
    }
  }
  assertEngineSupports(s, sources);
  return { prefix: prefix.data, ...s };
}

export function readSettingsFile(prefix: string): { file?: unknown; fileName: string } {
  const fileName = settingsFile(prefix);
  if (!fs.existsSync(fileName)) return { fileName };
  const text = fs.readFileSync(fileName, 'utf8');
  try {
    return { file: JSON.parse(text) as unknown, fileName };
  } catch (err) {
    throw new SettingsError(`file ${fileName}: not valid JSON (${(err as Error).message})`);
  }
}

/** Reads versions.json, the settings file and the environment. Throws SettingsError naming the bad value. */
export function loadSettings(env: NodeJS.ProcessEnv = process.env): Settings {
  const prefix = prefixFromEnv(env);
  const images = readImageVersions();
  // An invalid prefix is reported by resolveSettings before any file named after it matters.
  const fileInput = prefixSchema.safeParse(prefix).success ? readSettingsFile(prefix) : { fileName: '' };
  return resolveSettings({ env, images, ...fileInput });
}

/**
 * Sets one setting in the deployment's settings file after validating the whole result
 * (so `npm run scale -- 500` fails before anything is written). Returns the new settings.
 */
export function updateSettingsFile(key: SettingKey, raw: string, env: NodeJS.ProcessEnv = process.env): Settings {
  const prefix = prefixFromEnv(env);
  const images = readImageVersions();
  const prefixOk = prefixSchema.safeParse(prefix).success;
  const { file, fileName } = prefixOk ? readSettingsFile(prefix) : { file: undefined, fileName: '' };
  const current = typeof file === 'object' && file !== null && !Array.isArray(file) ? (file as Record<string, unknown>) : {};
  const next = { ...current, [key]: parseSettingValue(key, raw, 'command line') };
  // The environment is left out of this check on purpose for the key being set: the command line is what is being set.
  const envWithoutKey: NodeJS.ProcessEnv = { ...env, [envNameFor(key)]: undefined };
  const settings = resolveSettings({ env: envWithoutKey, images, file: next, fileName, fileLabel: `command line, for ${fileName}` });
  fs.mkdirSync(fileName.slice(0, fileName.lastIndexOf('/')), { recursive: true });
  fs.writeFileSync(fileName, `${JSON.stringify(next, null, 2)}\n`);
  return settings;
}

// ---------------------------------------------------------------------------------------------------
// Engine settings: which container engine runs the stack, and what only Docker Swarm needs.
// Function declarations (hoisted), so the schema and defaults above can include them.
//   engine             docker (one Docker host, the default) | swarm (a Docker Swarm of one or more nodes)
//   swarmManager       the manager's Docker endpoint (unix:///path, ssh://[user@]host[:port], tcp://host:port);
//                      empty = the environment's DOCKER_HOST, else the local socket
//   swarmNodes         Docker endpoints of every swarm node, comma-separated: where the CLI loads the images
//                      when there is no registry, and removes the NATS volumes on `down`
//   natsPlacement      one entry per NATS node: `id:<swarm node id>` or `label:<key>=<value>`
//                      (default: `label:ws-fleet.nats=<n>`); never by hostname
//   balancerPlacement  constraints for the nodes that run HAProxy (one per node, ports published in host
//                      mode there): `role:manager|worker`, `id:<node id>`, `label:<key>=<value>`
//   registry           optional image registry (host[:port][/path]): the stack pushes the images there and
//                      the services pin them by digest
// ---------------------------------------------------------------------------------------------------

export type Engine = TunableSettings['engine'];
export const ENGINES: readonly Engine[] = ['docker', 'swarm'];

/** Settings only the swarm engine honours (the docker engine refuses them when they differ from the default). */
export const SWARM_ONLY_SETTINGS = ['swarmManager', 'swarmNodes', 'natsPlacement', 'balancerPlacement', 'registry'] as const;

const SWARM_NODE_ID = /^[a-z0-9]{25}$/;
const LABEL_PART = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** A placement entry as the settings hold it (`id:…`, `label:k=v`, `role:…`) → a Swarm constraint. */
export function placementConstraint(entry: string): string {
  const [kind, ...rest] = entry.split(':');
  const value = rest.join(':');
  if (kind === 'id' && SWARM_NODE_ID.test(value)) return `node.id==${value}`;
  if (kind === 'role' && (value === 'manager' || value === 'worker')) return `node.role==${value}`;
  if (kind === 'label') {
    const eq = value.indexOf('=');
    const key = value.slice(0, eq);
    const val = value.slice(eq + 1);
    if (eq > 0 && LABEL_PART.test(key) && LABEL_PART.test(val)) return `node.labels.${key}==${val}`;
  }
  throw new Error(
    `${JSON.stringify(entry)} is not a placement: use id:<25-character swarm node id>, label:<key>=<value> or role:manager|worker ` +
      '(never a hostname: nodes may share one)',
  );
}

function engineSettingsShape() {
  // Locals, not module constants: this runs while the module initializes (from the schema above).
  const placementEntry = z.string().superRefine((v, ctx) => {
    try {
      placementConstraint(v);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
    }
  });
  /** A comma-separated string (environment, `settings.ts set`) or a JSON array (settings file). */
  const listOf = <T extends z.ZodType>(item: T) =>
    z.preprocess(
      (v) => (typeof v === 'string' ? v.split(',').map((e) => e.trim()).filter((e) => e !== '') : v),
      z.array(item, { error: 'must be a list (comma-separated, or a JSON array in the settings file)' }),
    );
  const dockerEndpoint = z
    .string()
    .regex(/^(unix:\/\/\/[^\s,]+|ssh:\/\/[A-Za-z0-9._-]+(@[A-Za-z0-9.-]+)?(:\d{1,5})?|tcp:\/\/[A-Za-z0-9.-]+:\d{1,5})$/, {
      error: 'must be a Docker endpoint: unix:///path, ssh://[user@]host[:port] or tcp://host:port',
    });
  return {
    engine: z.enum(['docker', 'swarm']),
    swarmManager: z.union([z.literal(''), dockerEndpoint]),
    swarmNodes: listOf(dockerEndpoint),
    natsPlacement: listOf(placementEntry),
    balancerPlacement: listOf(placementEntry).refine((l) => l.length > 0, { error: 'needs at least one constraint' }),
    registry: z.union([
      z.literal(''),
      z.string().regex(/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:\d{1,5})?(\/[a-z0-9._-]+)*$/, {
        error: 'must be a registry host[:port][/path], without a scheme',
      }),
    ]),
  };
}

function engineDefaults(): { engine: Engine; swarmManager: string; swarmNodes: string[]; natsPlacement: string[]; balancerPlacement: string[]; registry: string } {
  return { engine: 'docker', swarmManager: '', swarmNodes: [], natsPlacement: [], balancerPlacement: ['role:manager'], registry: '' };
}

/** NATS node n's placement: the configured entry, else the label `ws-fleet.nats=<n>`. */
export function natsPlacementFor(settings: Pick<TunableSettings, 'natsPlacement'>, n: number): string {
  return settings.natsPlacement[n - 1] ?? `label:ws-fleet.nats=${n}`;
}

/** Refuses, by name, a setting the chosen engine cannot honour. */
function assertEngineSupports(s: TunableSettings, sources: Partial<Record<SettingKey, string>>): void {
  const from = (key: SettingKey): string => sources[key] ?? 'defaults';
  if (s.engine === 'docker') {
    const defaults = engineDefaults();
    for (const key of SWARM_ONLY_SETTINGS) {
      if (JSON.stringify(s[key]) !== JSON.stringify(defaults[key])) {
        throw new SettingsError(`invalid setting ${key}=${JSON.stringify(s[key])} (from ${from(key)}): only the swarm engine uses it; set engine=swarm or remove it`);
      }
    }
    return;
  }
  if (s.bindAddress !== '0.0.0.0') {
    throw new SettingsError(
      `invalid setting bindAddress=${JSON.stringify(s.bindAddress)} (from ${from('bindAddress')}) for engine swarm: Swarm publishes host-mode ports on ` +
        'every address of the balancer\'s nodes and cannot bind one address; set bindAddress=0.0.0.0 to accept that (and firewall the nodes)',
    );
  }
  if (s.debugNatsPortBase !== 0) {
    throw new SettingsError(
      `invalid setting debugNatsPortBase=${s.debugNatsPortBase} (from ${from('debugNatsPortBase')}) for engine swarm: NATS ports are not published on swarm; ` +
        'reach a node with `docker exec` on its node or through an attachable container on the overlay network',
    );
  }
  if (s.natsPlacement.length !== 0 && s.natsPlacement.length !== s.natsNodes) {
    throw new SettingsError(
      `invalid setting natsPlacement=${JSON.stringify(s.natsPlacement)} (from ${from('natsPlacement')}): needs exactly one entry per NATS node (natsNodes=${s.natsNodes})`,
    );
  }
  const constraints = s.natsPlacement.map(placementConstraint);
  const twice = constraints.find((c, i) => constraints.indexOf(c) !== i);
  if (twice !== undefined) {
    throw new SettingsError(
      `invalid setting natsPlacement=${JSON.stringify(s.natsPlacement)} (from ${from('natsPlacement')}): two NATS nodes on ${twice}; each needs its own swarm node to keep a quorum when one fails`,
    );
  }
}
