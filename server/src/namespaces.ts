/**
 * Namespace policies (env NAMESPACES, JSON): who may join, read history and publish in a
 * namespace's rooms. A namespace that is not configured, `default` included, denies everything.
 */
import { z } from 'zod';
import { isValidNamespace } from './rooms.js';

/**
 * One namespace's policy. The deployment's settings validate with this same schema at synth
 * (infra/settings.ts), so a policy that synthesizes is one the replicas accept.
 */
export const namespacePolicySchema = z.strictObject({
  /** authenticated: any user with a valid token; grant: only holders of a join grant or room token. */
  join: z.enum(['authenticated', 'grant']),
  /** members: whoever may join may replay; grant: a history grant is needed; none: live only. */
  history: z.enum(['members', 'grant', 'none']),
  /** members: a connection that joined (HTTP: a user who may join); grant: a publish grant; server: the server API only. */
  publish: z.enum(['members', 'grant', 'server']),
  keepHistory: z.boolean(),
  historyMaxAgeSec: z.number().int().min(1).max(30 * 24 * 3600),
  historyMaxMsgs: z.number().int().min(1).max(10_000_000),
  maxMembers: z.number().int().min(1).max(10_000_000).optional(),
}).refine((ns) => ns.keepHistory || ns.history === 'none', { error: 'history must be "none" when keepHistory is false', path: ['history'] });
export type NamespacePolicy = z.infer<typeof namespacePolicySchema>;
export type Namespaces = ReadonlyMap<string, NamespacePolicy>;

const namespacesSchema = z.record(z.string(), namespacePolicySchema);

/** Why a namespace name is refused, or undefined when it is a valid one. */
export function namespaceNameProblem(name: string): string | undefined {
  return isValidNamespace(name) ? undefined : `namespace ${JSON.stringify(name)}: namespace names are 1-64 letters, digits, "_" or "-", without "__" and not ending with "_"`;
}

/** Parses NAMESPACES; throws an Error whose message names the bad namespace and field. */
export function parseNamespaces(text: string): Namespaces {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new Error('must be a JSON object of namespace name → policy');
  }
  const parsed = namespacesSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`${issue?.path.map(String).join('.') ?? ''}: ${issue?.message ?? 'is invalid'}`);
  }
  const out = new Map<string, NamespacePolicy>();
  for (const [name, policy] of Object.entries(parsed.data)) {
    const problem = namespaceNameProblem(name);
    if (problem !== undefined) throw new Error(problem);
    out.set(name, policy);
  }
  return out;
}
