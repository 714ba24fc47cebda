/**
 * Where the infra reads and writes on disk. Everything mutable lives under the gitignored
 * state dir `.ws-fleet/` at the project root.
 */
import { fileURLToPath } from 'node:url';
import path from 'node:path';

/** The project root (the directory holding package.json and cdktf.json). */
export const projectRoot: string = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export const stateDir: string = path.join(projectRoot, '.ws-fleet');

/** `images/versions.json`: the official image tags the stack runs. */
export const imageVersionsFile: string = path.join(projectRoot, 'images', 'versions.json');

/** The build context `npm run build:server` prepares for the server image. */
export const serverImageContext: string = path.join(projectRoot, 'server', '.image');

/** Per-deployment settings written by `npm run scale` / `npm run lb` (JSON, any subset of the settings). */
export function settingsFile(prefix: string): string {
  return path.join(stateDir, 'settings', `${prefix}.json`);
}

/** Per-deployment secrets (mode 600): AUTH_SECRET, NATS_USER, NATS_PASSWORD as `KEY=value` lines. */
export function secretsFile(prefix: string): string {
  return path.join(stateDir, 'secrets', `${prefix}.env`);
}

/** Terraform local-backend state for one deployment. */
export function terraformStateFile(prefix: string): string {
  return path.join(stateDir, 'state', `${prefix}.tfstate`);
}
