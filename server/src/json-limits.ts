/**
 * Limits on incoming JSON that JSON.parse does not enforce itself. A value nested thousands of
 * levels deep parses fine but later overflows the stack of whatever walks it (the serializer, a
 * validator), far from where it came in; so the depth is measured on the text, before parsing.
 */

/** Nesting depth of a JSON text: the deepest run of open `[`/`{` outside strings. Linear, no recursion. */
export function jsonDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) i += 1;
      else if (c === 0x22 /* " */) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      depth += 1;
      if (depth > max) max = depth;
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) depth -= 1;
  }
  return max;
}

export type JsonParse = { ok: true; value: unknown } | { ok: false; reason: 'bad_json' | 'too_deep'; message: string };

/** JSON.parse with a nesting limit; never throws. */
export function parseJsonLimited(text: string, maxDepth: number): JsonParse {
  if (jsonDepth(text) > maxDepth) return { ok: false, reason: 'too_deep', message: `JSON is nested deeper than ${maxDepth} levels` };
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false, reason: 'bad_json', message: 'not valid JSON' };
  }
}
