/** Shared `balance` argument checks. */

/** checkArgs for algorithms that take no arguments. */
export function noArguments(name: string): (args: string[]) => string | undefined {
  return (args) => (args.length ? `${name} takes no arguments (got "${args.join(' ')}")` : undefined);
}

/** A strictly positive decimal integer, or undefined. */
export function positiveInt(text: string | undefined): number | undefined {
  if (text === undefined || !/^[0-9]+$/.test(text)) return undefined;
  const n = Number(text);
  return n > 0 && Number.isSafeInteger(n) ? n : undefined;
}
