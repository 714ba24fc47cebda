/** `--name=<value>` from the command line, a positive number (`integer`: a whole one), or `fallback`; a bad value is an error naming it. */
export function positiveArg(name: string, fallback: number, opts: { integer?: boolean } = {}): number {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  const v = a === undefined ? fallback : Number(a.slice(name.length + 3));
  const whole = opts.integer === true;
  if (!Number.isFinite(v) || v <= 0 || (whole && !Number.isSafeInteger(v))) throw new Error(`--${name}: must be a positive ${whole ? 'integer' : 'number'} (got ${a ?? ''})`);
  return v;
}
