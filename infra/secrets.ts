/**
 * The deployment's secrets: generated once per prefix into `.ws-fleet/secrets/<prefix>.env` (mode 600,
 * in a 0700 directory, gitignored), never written into code, the repo or the synthesized stack. Terraform
 * receives them as sensitive variables through TF_VAR_<lower-case key> at deploy time; the containers get
 * them as environment variables; load scripts and tests read the same file. The Terraform state holds
 * every resolved secret, so its directory and files are locked down the same way.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { secretsFile, terraformStateFile } from './paths.js';

export interface FleetSecrets {
  /** HS256 key for the replicas' JWTs (AUTH_SECRET). */
  readonly authSecret: string;
  /** The server API key (`Authorization: ApiKey …` on /send, /rooms/…/publish, /broadcast); never signs tokens. */
  readonly serverApiKey: string;
  /** NATS client credentials (the replicas). */
  readonly natsUser: string;
  readonly natsPassword: string;
  /** NATS cluster route credentials (node to node only). */
  readonly natsRouteUser: string;
  readonly natsRoutePassword: string;
  /** HAProxy stats page and Prometheus exporter (basic auth). */
  readonly lbStatsUser: string;
  readonly lbStatsPassword: string;
}

export type SecretKey = keyof FleetSecrets;

interface SecretSpec {
  /** Key in the secrets file; the Terraform variable is its lower-case form (AUTH_SECRET → TF_VAR_auth_secret). */
  readonly fileKey: string;
  readonly tfVar: string;
  readonly minLength: number;
  readonly generate: () => string;
}

const ALNUM = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

/**
 * Letters and digits only, starting with a letter: nats-server substitutes `$NATS_PASSWORD` into its
 * config and parses the value as a bare token, route credentials go into URLs, and HAProxy expands the
 * stats credentials inside a quoted word: no quoting, escaping, sign or numeric look is ever needed.
 */
function randomToken(length: number): string {
  const bytes = crypto.randomBytes(length * 2);
  let out = '';
  for (const b of bytes) {
    // 248 = 4 * 62: rejection sampling keeps the distribution uniform.
    if (b >= 248) continue;
    const ch = ALNUM[b % 62];
    if (ch === undefined) continue;
    if (out.length === 0 && !/[a-zA-Z]/.test(ch)) continue;
    out += ch;
    if (out.length === length) return out;
  }
  return randomToken(length);
}

function spec(fileKey: string, minLength: number, generate: () => string): SecretSpec {
  return { fileKey, tfVar: fileKey.toLowerCase(), minLength, generate };
}

/** Every secret: its file key, Terraform variable, minimum length and generator. */
export const SECRET_VARIABLES: Readonly<Record<SecretKey, SecretSpec>> = {
  authSecret: spec('AUTH_SECRET', 32, () => crypto.randomBytes(48).toString('base64url')),
  serverApiKey: spec('SERVER_API_KEY', 32, () => randomToken(48)),
  natsUser: spec('NATS_USER', 4, () => `fleet${randomToken(8)}`),
  natsPassword: spec('NATS_PASSWORD', 16, () => randomToken(40)),
  natsRouteUser: spec('NATS_ROUTE_USER', 4, () => `route${randomToken(8)}`),
  natsRoutePassword: spec('NATS_ROUTE_PASSWORD', 16, () => randomToken(40)),
  lbStatsUser: spec('LB_STATS_USER', 4, () => `stats${randomToken(6)}`),
  lbStatsPassword: spec('LB_STATS_PASSWORD', 16, () => randomToken(32)),
};

const SECRET_KEYS = Object.keys(SECRET_VARIABLES) as SecretKey[];

export function generateSecrets(): FleetSecrets {
  return Object.fromEntries(SECRET_KEYS.map((k) => [k, SECRET_VARIABLES[k].generate()])) as unknown as FleetSecrets;
}

function parseLines(text: string): Map<string, string> {
  const values = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (m?.[1] !== undefined && m[2] !== undefined) values.set(m[1], m[2]);
  }
  return values;
}

/** What every secret value is made of (the generators above produce nothing else). */
const SECRET_VALUE = /^[A-Za-z0-9_-]+$/;

export function parseSecretsFile(text: string, file: string): FleetSecrets {
  const values = parseLines(text);
  const get = (key: SecretKey): string => {
    const { fileKey, minLength } = SECRET_VARIABLES[key];
    const v = values.get(fileKey);
    if (v === undefined || v.length < minLength) {
      throw new Error(`${file}: ${fileKey} is missing or shorter than ${minLength} characters; delete the file to regenerate it (the deployment must then be re-applied)`);
    }
    // Values go verbatim into config files, URLs and the replicas' JSON-bundled environment (SERVER_ENV_JSON).
    if (!SECRET_VALUE.test(v)) throw new Error(`${file}: ${fileKey} may hold only letters, digits, "-" and "_"`);
    return v;
  };
  return Object.fromEntries(SECRET_KEYS.map((k) => [k, get(k)])) as unknown as FleetSecrets;
}

export function formatSecretsFile(s: FleetSecrets): string {
  return [
    '# ws-fleet deployment secrets. Generated once; keep private (mode 600). Never commit.',
    ...SECRET_KEYS.map((k) => `${SECRET_VARIABLES[k].fileKey}=${s[k]}`),
    '',
  ].join('\n');
}

export function readSecrets(prefix: string): FleetSecrets {
  const file = secretsFile(prefix);
  if (!fs.existsSync(file)) throw new Error(`${file} does not exist: run \`npm run up\` (or scripts/up.sh) to create the deployment and its secrets`);
  return parseSecretsFile(fs.readFileSync(file, 'utf8'), file);
}

/** Files that hold secrets for one deployment: the secrets file, and the Terraform state (it records every resolved secret). */
export interface DeploymentFiles {
  readonly secrets: string;
  readonly state: string;
}

export function deploymentFiles(prefix: string): DeploymentFiles {
  return { secrets: secretsFile(prefix), state: terraformStateFile(prefix) };
}

/**
 * Makes the secrets and state directories 0700 and every file in them 0600, and creates the state file
 * and its backup empty and 0600 when they do not exist yet: Terraform keeps an existing file's mode when
 * it rewrites it, but creates new ones world-readable (0644 under the usual umask). An empty state file
 * is read as "no state" by Terraform.
 */
export function protectDeploymentFiles(files: DeploymentFiles): void {
  for (const dir of new Set([path.dirname(files.secrets), path.dirname(files.state)])) {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    fs.chmodSync(dir, 0o700);
  }
  for (const f of [files.state, `${files.state}.backup`]) {
    if (!fs.existsSync(f)) fs.writeFileSync(f, '', { mode: 0o600, flag: 'wx' });
  }
  for (const dir of new Set([path.dirname(files.secrets), path.dirname(files.state)])) {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      if (entry.isFile()) fs.chmodSync(path.join(dir, entry.name), 0o600);
    }
  }
}

/**
 * Returns the deployment's secrets, generating the file (mode 600) on first use and adding any secret
 * a newer version introduced (existing values are kept). Locks down the secrets and state files.
 */
export function ensureSecrets(prefix: string, files: DeploymentFiles = deploymentFiles(prefix)): { secrets: FleetSecrets; created: boolean; file: string } {
  const file = files.secrets;
  protectDeploymentFiles(files);
  if (fs.existsSync(file)) {
    const values = parseLines(fs.readFileSync(file, 'utf8'));
    // A secret that is present but too short is an error (parseSecretsFile says so); only absent ones are added.
    const absent = SECRET_KEYS.filter((k) => !values.has(SECRET_VARIABLES[k].fileKey));
    if (absent.length > 0) {
      const merged = Object.fromEntries(SECRET_KEYS.map((k) => [k, values.get(SECRET_VARIABLES[k].fileKey) ?? SECRET_VARIABLES[k].generate()])) as unknown as FleetSecrets;
      const tmp = `${file}.tmp-${process.pid}`;
      fs.writeFileSync(tmp, formatSecretsFile(merged), { mode: 0o600, flag: 'wx' });
      fs.renameSync(tmp, file);
    }
    return { secrets: parseSecretsFile(fs.readFileSync(file, 'utf8'), file), created: false, file };
  }
  const secrets = generateSecrets();
  // 'wx': never overwrite a file a concurrent run just created.
  fs.writeFileSync(file, formatSecretsFile(secrets), { mode: 0o600, flag: 'wx' });
  return { secrets, created: true, file };
}

/** The TF_VAR_* environment that hands the secrets to Terraform as sensitive variables. */
export function terraformVariableEnv(s: FleetSecrets): Record<string, string> {
  return Object.fromEntries(SECRET_KEYS.map((k) => [`TF_VAR_${SECRET_VARIABLES[k].tfVar}`, s[k]]));
}
