/**
 * Reading `--set key=value` settings of an algorithm (src/algorithms/types.ts): the one parser
 * every algorithm uses, so they all refuse bad values with the same message.
 */
import { PhalanxError } from "../core/errors.ts";

/** The integer setting `key` in min..max, or `fallback` when it is not set. */
export function intSetting(
  settings: Readonly<Record<string, string>>,
  key: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const text = settings[key];
  if (text === undefined) return fallback;
  const v = Number(text.trim());
  if (!/^\d+$/.test(text.trim()) || v < min || v > max) {
    throw new PhalanxError("BAD_ARGUMENT", `--set ${key}= needs an integer in ${min}..${max}, got "${text}"`);
  }
  return v;
}
