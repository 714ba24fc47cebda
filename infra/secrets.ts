/**
 * The deployment's secrets: generated once per prefix into `.ws-fleet/secrets/<prefix>.env` (mode 600,
 * gitignored), never written into code, the repo or the synthesized stack. Terraform receives them as
 * sensitive variables through TF_VAR_* at deploy time; k6 scripts and tests read the same file.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { secretsFile } from './paths.js';

export interface FleetSecrets {
  /** HS256 key for the replicas' JWTs (AUTH_SECRET). */
  readonly authSecret: string;
  readonly natsUser: string;
  readonly natsPassword: string;
}

/** Terraform variable names (declared in the stack) and the secrets file keys they come from. */
export const SECRET_VARIABLES = {
  authSecret: { tfVar: 'auth_secret', fileKey: 'AUTH_SECRET' },
  natsUser: { tfVar: 'nats_user', fileKey: 'NATS_USER' },
  natsPassword: { tfVar: 'nats_password', fileKey: 'NATS_PASSWORD' },
} as const satisfies Record<keyof FleetSecrets, { tfVar: string; fileKey: string }>;

const ALNUM = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

/**
 * Letters and digits only, starting with a letter: nats-server substitutes `$NATS_PASSWORD` into its
 * config and parses the value as a bare token, so no quoting, sign or numeric look is allowed.
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

export function generateSecrets(): FleetSecrets {
  return {
    authSecret: crypto.randomBytes(48).toString('base64url'),
    natsUser: `fleet${randomToken(8)}`,
    natsPassword: randomToken(40),
  };
}

export function parseSecretsFile(text: string, file: string): FleetSecrets {
  const values = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (m?.[1] !== undefined && m[2] !== undefined) values.set(m[1], m[2]);
  }
  const get = (key: string, minLength: number): string => {
    const v = values.get(key);
    if (v === undefined || v.length < minLength) {
      throw new Error(`${file}: ${key} is missing or shorter than ${minLength} characters; delete the file to regenerate it (the deployment must then be re-applied)`);
    }
    return v;
  };
  return {
    authSecret: get(SECRET_VARIABLES.authSecret.fileKey, 32),
    natsUser: get(SECRET_VARIABLES.natsUser.fileKey, 4),
    natsPassword: get(SECRET_VARIABLES.natsPassword.fileKey, 16),
  };
}

export function formatSecretsFile(s: FleetSecrets): string {
  return [
    '# ws-fleet deployment secrets. Generated once; keep private (mode 600). Never commit.',
    `${SECRET_VARIABLES.authSecret.fileKey}=${s.authSecret}`,
    `${SECRET_VARIABLES.natsUser.fileKey}=${s.natsUser}`,
    `${SECRET_VARIABLES.natsPassword.fileKey}=${s.natsPassword}`,
    '',
  ].join('\n');
}

export function readSecrets(prefix: string): FleetSecrets {
  const file = secretsFile(prefix);
  if (!fs.existsSync(file)) throw new Error(`${file} does not exist: run \`npm run up\` (or scripts/up.sh) to create the deployment and its secrets`);
  return parseSecretsFile(fs.readFileSync(file, 'utf8'), file);
}

/** Returns the deployment's secrets, generating the file (mode 600) on first use. */
export function ensureSecrets(prefix: string): { secrets: FleetSecrets; created: boolean; file: string } {
  const file = secretsFile(prefix);
  if (fs.existsSync(file)) {
    fs.chmodSync(file, 0o600);
    return { secrets: parseSecretsFile(fs.readFileSync(file, 'utf8'), file), created: false, file };
  }
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const secrets = generateSecrets();
  // 'wx': never overwrite a file a concurrent run just created.
  fs.writeFileSync(file, formatSecretsFile(secrets), { mode: 0o600, flag: 'wx' });
  return { secrets, created: true, file };
}

/** The TF_VAR_* environment that hands the secrets to Terraform as sensitive variables. */
export function terraformVariableEnv(s: FleetSecrets): Record<string, string> {
  return {
    [`TF_VAR_${SECRET_VARIABLES.authSecret.tfVar}`]: s.authSecret,
    [`TF_VAR_${SECRET_VARIABLES.natsUser.tfVar}`]: s.natsUser,
    [`TF_VAR_${SECRET_VARIABLES.natsPassword.tfVar}`]: s.natsPassword,
  };
}
