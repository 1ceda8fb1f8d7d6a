// The bench scripts' settings from the environment, with one way to say a value is wrong.

/** A setting the user got wrong: the script prints it and exits 2. */
export class UsageError extends Error {}

/** A whole-number setting: `dflt` when unset or empty. */
export function intEnv(name, dflt, min = 1) {
  const v = process.env[name];
  if (v === undefined || v === '') return dflt;
  if (!/^\d+$/.test(v) || Number(v) < min) throw new UsageError(`${name}=${JSON.stringify(v)}: expected a whole number >= ${min}`);
  return Number(v);
}
