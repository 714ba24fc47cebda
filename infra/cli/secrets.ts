/**
 * `tsx infra/cli/secrets.ts ensure`: creates .ws-fleet/secrets/<prefix>.env (mode 600) when missing and
 * prints its path. Never prints a secret.
 * `tsx infra/cli/secrets.ts get <KEY>`: prints one secret of an existing deployment (e.g. AUTH_SECRET) on
 * stdout, for a script that hands it to a process it starts (scripts/k6.sh); the file is parsed by
 * infra/secrets.ts, the one reader of it.
 */
import { prefixFromEnv } from '../paths.js';
import { ensureSecrets, readSecrets, SECRET_VARIABLES, type FleetSecrets } from '../secrets.js';

const prefix = prefixFromEnv();
const [verb, key] = process.argv.slice(2);
try {
  if (verb === 'ensure') {
    const { file, created } = ensureSecrets(prefix);
    console.error(`secrets: ${created ? 'generated' : 'present'} ${file}`);
    console.log(file);
  } else if (verb === 'get' && key !== undefined) {
    const name = (Object.keys(SECRET_VARIABLES) as (keyof FleetSecrets)[]).find((k) => SECRET_VARIABLES[k].fileKey === key);
    if (name === undefined) throw new Error(`unknown secret ${JSON.stringify(key)} (known: ${Object.values(SECRET_VARIABLES).map((s) => s.fileKey).join(', ')})`);
    console.log(readSecrets(prefix)[name]);
  } else {
    console.error('usage: secrets.ts ensure | get <KEY>');
    process.exit(2);
  }
} catch (err) {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
}
