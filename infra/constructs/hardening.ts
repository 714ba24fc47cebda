/**
 * What every container of the stack runs with: no capability at all (each one binds ports above 1024
 * as an unprivileged user and needs none) and no-new-privileges, so no setuid binary in an image can
 * regain what was dropped.
 */
export function hardening(): { securityOpts: string[]; capabilities: { drop: string[] } } {
  return { securityOpts: ['no-new-privileges:true'], capabilities: { drop: ['ALL'] } };
}
