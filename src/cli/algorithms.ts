/**
 * `phalanx sim NAME` for the classic algorithms (src/algorithms/): parses the shared options,
 * runs the experiment and prints its report (or one JSON line with --json). Exit code 0 when
 * the algorithm's oracle held, 1 when it did not.
 */

import { writeFileSync } from "node:fs";
import { algorithms } from "../algorithms/registry.ts";
import type { Algorithm } from "../algorithms/types.ts";
import { PhalanxError } from "../core/errors.ts";
import { viewerCommand } from "../ui/build.ts";

export interface AlgorithmFlags {
  nodes?: number;
  traitors?: number;
  seed: number;
  strategy?: string;
  trace?: string;
  set?: string[];
  json?: boolean;
}

export function isAlgorithm(name: string | undefined): name is string {
  return name !== undefined && algorithms.has(name);
}

/** `--set a=1 --set b=x` → { a: "1", b: "x" }; refuses keys the algorithm does not know. */
function settingsOf(algorithm: Algorithm, pairs: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new PhalanxError("BAD_ARGUMENT", `--set expects key=value, got "${pair}"`);
    const key = pair.slice(0, eq);
    if (!Object.hasOwn(algorithm.settings, key)) {
      const known = Object.keys(algorithm.settings);
      throw new PhalanxError(
        "BAD_ARGUMENT",
        `${algorithm.name} has no setting "${key}"${known.length > 0 ? `; it knows: ${known.join(", ")}` : ""}`,
      );
    }
    out[key] = pair.slice(eq + 1);
  }
  return out;
}

export async function runAlgorithm(name: string, flags: AlgorithmFlags): Promise<number> {
  const algorithm = algorithms.get(name) as Algorithm;
  if (flags.strategy !== undefined && !algorithm.strategies.includes(flags.strategy)) {
    throw new PhalanxError(
      "BAD_ARGUMENT",
      `${name} has no strategy "${flags.strategy}"; choose one of: ${algorithm.strategies.join(", ") || "(none)"}`,
    );
  }
  const result = await algorithm.run({
    nodes: flags.nodes,
    traitors: flags.traitors,
    seed: flags.seed,
    strategy: flags.strategy,
    trace: flags.trace,
    settings: settingsOf(algorithm, flags.set ?? []),
  });
  if (flags.trace !== undefined && result.traceJsonl !== undefined)
    writeFileSync(flags.trace, result.traceJsonl);
  if (flags.json) {
    console.log(JSON.stringify({ algorithm: name, seed: flags.seed, ok: result.ok, ...result.figures }));
  } else {
    for (const line of result.lines) console.log(line);
    if (flags.trace !== undefined && result.traceJsonl !== undefined)
      console.log(`wrote trace to ${flags.trace}; view it: ${viewerCommand(flags.trace)}`);
  }
  return result.ok ? 0 : 1;
}

/** The list shown by `phalanx sim --help`. */
export function algorithmHelp(): string {
  const width = Math.max(...[...algorithms.keys()].map((k) => k.length));
  return [...algorithms.values()].map((a) => `  ${a.name.padEnd(width)}  ${a.summary}`).join("\n");
}
