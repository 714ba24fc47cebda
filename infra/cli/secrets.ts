/**
 * `tsx infra/cli/secrets.ts ensure`: creates .ws-fleet/secrets/<prefix>.env (mode 600) when missing and
 * prints its path. Never prints a secret.
 */
import { prefixFromEnv } from '../paths.js';
import { ensureSecrets } from '../secrets.js';

const prefix = prefixFromEnv();
if (process.argv[2] !== 'ensure') {
  console.error('usage: secrets.ts ensure');
  process.exit(2);
}
try {
  const { file, created } = ensureSecrets(prefix);
  console.error(`secrets: ${created ? 'generated' : 'present'} ${file}`);
  console.log(file);
} catch (err) {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
}
