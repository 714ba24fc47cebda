/**
 * A minimal reader for haproxy.cfg text: section headers and their directive lines, comments dropped.
 * Tests (and the infra's tests) assert on sections and lines instead of a whole-file snapshot.
 */

export interface HaproxySection {
  /** "global", "defaults", "frontend", "backend", "resolvers", ... */
  readonly type: string;
  /** The section's name ("" for global and an unnamed defaults). */
  readonly name: string;
  /** Directive lines, trimmed, whitespace collapsed, comments removed. */
  readonly lines: readonly string[];
}

const SECTION_KEYWORDS = new Set(['global', 'defaults', 'frontend', 'backend', 'listen', 'resolvers', 'peers', 'userlist', 'mailers', 'program', 'cache', 'ring', 'http-errors']);

/** Splits config text into sections in file order. */
export function parseHaproxySections(config: string): HaproxySection[] {
  const sections: { type: string; name: string; lines: string[] }[] = [];
  for (const raw of config.split('\n')) {
    if (/^\s*(#|$)/.test(raw)) continue;
    const line = raw.trim().replace(/\s+/g, ' ');
    const [first = '', second = ''] = line.split(' ');
    const isHeader = !/^\s/.test(raw) && SECTION_KEYWORDS.has(first);
    if (isHeader) {
      sections.push({ type: first, name: second, lines: [] });
      continue;
    }
    const current = sections.at(-1);
    if (current === undefined) throw new Error(`directive outside any section: ${line}`);
    current.lines.push(line);
  }
  return sections;
}

/** The one section of that type and name; throws when it is missing. */
export function findSection(sections: readonly HaproxySection[], type: string, name = ''): HaproxySection {
  const found = sections.find((s) => s.type === type && s.name === name);
  if (found === undefined) throw new Error(`no "${type}${name === '' ? '' : ` ${name}`}" section`);
  return found;
}
