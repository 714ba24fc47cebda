/**
 * The deployment's secrets as Terraform variables, declared the same way by both engines' stacks:
 * sensitive, never written into the synthesized stack, passed as TF_VAR_<name> by the deploy command
 * from the secrets file (infra/secrets.ts owns the names, the file and the generation).
 */
import { TerraformVariable } from 'cdktf';
import type { Construct } from 'constructs';
import { SECRET_VARIABLES, type SecretKey } from './secrets.js';

const WHAT_IT_PROTECTS: Readonly<Record<SecretKey, string>> = {
  authSecret: 'HS256 key the replicas verify client JWTs with',
  serverApiKey: 'Server API key (Authorization: ApiKey) for publishing and broadcasting as the server',
  natsUser: 'NATS client user',
  natsPassword: 'NATS client password',
  natsRouteUser: 'NATS cluster route user',
  natsRoutePassword: 'NATS cluster route password',
  lbStatsUser: 'HAProxy stats page and exporter user',
  lbStatsPassword: 'HAProxy stats page and exporter password',
};

/** Each secret's value in the stack: a reference to its variable. */
export type SecretReferences = Readonly<Record<SecretKey, string>>;

export function declareSecretVariables(scope: Construct): SecretReferences {
  const refs = {} as Record<SecretKey, string>;
  for (const key of Object.keys(SECRET_VARIABLES) as SecretKey[]) {
    const { tfVar } = SECRET_VARIABLES[key];
    refs[key] = new TerraformVariable(scope, tfVar, {
      type: 'string',
      sensitive: true,
      nullable: false,
      description: `${WHAT_IT_PROTECTS[key]} (generated into .ws-fleet/secrets/<prefix>.env; pass as TF_VAR_${tfVar})`,
    }).stringValue;
  }
  return refs;
}
