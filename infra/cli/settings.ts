/**
 * `tsx infra/cli/settings.ts set <setting> <value>`: validates and writes one setting into
 *   .ws-fleet/settings/<prefix>.json (nothing is written when the result would be invalid).
 * `tsx infra/cli/settings.ts show`: prints the resolved settings as JSON.
 * `tsx infra/cli/settings.ts get <setting>`: prints one resolved setting.
 */
import { isSettingKey, loadSettings, SettingsError, updateSettingsFile } from '../settings.js';

/** Object settings (namespaces) print as JSON, the others as they are. */
function formatValue(value: unknown): string {
  return typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value);
}

function usage(): never {
  console.error('usage: settings.ts set <setting> <value> | get <setting> | show');
  process.exit(2);
}

function run(argv: string[]): void {
  const [command, key, value] = argv;
  if (command === 'show') {
    console.log(JSON.stringify(loadSettings(), null, 2));
    return;
  }
  if (command === 'get' && key !== undefined) {
    const settings = loadSettings();
    if (key !== 'prefix' && !isSettingKey(key)) throw new SettingsError(`unknown setting ${JSON.stringify(key)}`);
    console.log(formatValue(settings[key]));
    return;
  }
  if (command === 'set' && key !== undefined && value !== undefined) {
    if (!isSettingKey(key)) throw new SettingsError(`unknown setting ${JSON.stringify(key)}`);
    const settings = updateSettingsFile(key, value);
    console.log(`${settings.prefix}: ${key}=${formatValue(settings[key])}`);
    return;
  }
  usage();
}

try {
  run(process.argv.slice(2));
} catch (err) {
  console.error(err instanceof SettingsError ? `ws-fleet settings: ${err.message}` : err);
  process.exit(1);
}
