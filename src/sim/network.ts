/**
 * The simulated network's link model: per-link latency distributions, loss, duplication,
 * extra reordering delay, and FIFO links (Chandy–Lamport needs them). Partitions are kept by
 * the Simulation as a matrix of blocked directed links.
 */

import { PhalanxError } from "../core/errors.ts";
import type { NodeId } from "../core/ids.ts";
import type { Prng } from "../core/prng.ts";

export type Latency =
  | { kind: "constant"; ms: number }
  | { kind: "uniform"; minMs: number; maxMs: number }
  | { kind: "exponential"; minMs: number; meanMs: number }
  | { kind: "normal"; meanMs: number; sdMs: number; minMs: number };

export interface LinkConfig {
  latency: Latency;
  /** Probability that a message is lost. */
  lossProb: number;
  /** Probability that a message is delivered twice. */
  dupProb: number;
  /** Probability that a message gets an extra delay of up to `reorderDelayMs` (so later ones overtake it). */
  reorderProb: number;
  reorderDelayMs: number;
  /** Deliver in send order on this link. */
  fifo: boolean;
}

export interface NetworkConfig {
  link: LinkConfig;
  /** Overrides for directed links. */
  links?: ReadonlyArray<{ from: NodeId; to: NodeId; config: Partial<LinkConfig> }>;
}

export const defaultLink: LinkConfig = {
  latency: { kind: "uniform", minMs: 1, maxMs: 10 },
  lossProb: 0,
  dupProb: 0,
  reorderProb: 0,
  reorderDelayMs: 0,
  fifo: false,
};

export function sampleLatency(latency: Latency, prng: Prng): number {
  switch (latency.kind) {
    case "constant":
      return latency.ms;
    case "uniform":
      return latency.minMs + prng.float() * (latency.maxMs - latency.minMs);
    case "exponential":
      return latency.minMs + prng.exponential(latency.meanMs - latency.minMs);
    case "normal": {
      // Box–Muller with two uniforms from the run's generator.
      const u1 = 1 - prng.float();
      const u2 = prng.float();
      const z = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
      return Math.max(latency.minMs, latency.meanMs + z * latency.sdMs);
    }
  }
}

export function validateLink(link: LinkConfig): void {
  const probs: Array<[string, number]> = [
    ["lossProb", link.lossProb],
    ["dupProb", link.dupProb],
    ["reorderProb", link.reorderProb],
  ];
  for (const [name, p] of probs) {
    if (!(p >= 0 && p <= 1)) throw new PhalanxError("BAD_CONFIG", `${name} must be in [0, 1], got ${p}`);
  }
  const l = link.latency;
  const lows = l.kind === "constant" ? [l.ms] : l.kind === "normal" ? [l.minMs, l.meanMs] : [l.minMs];
  if (lows.some((x) => !(x >= 0)))
    throw new PhalanxError("BAD_CONFIG", `latency must be >= 0: ${JSON.stringify(l)}`);
  if (l.kind === "uniform" && l.maxMs < l.minMs)
    throw new PhalanxError("BAD_CONFIG", "latency maxMs < minMs");
  if (l.kind === "exponential" && l.meanMs < l.minMs)
    throw new PhalanxError("BAD_CONFIG", "latency meanMs < minMs");
  if (!(link.reorderDelayMs >= 0)) throw new PhalanxError("BAD_CONFIG", "reorderDelayMs must be >= 0");
}
