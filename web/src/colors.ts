/**
 * Colours: PBFT phases get fixed, distinct colours (the same in every trace, so a reader learns
 * them once); other message types get a stable colour from their name.
 */
import type { TraceKind } from "../../src/sim/trace-format.ts";

export const pbftPhases: ReadonlyArray<[label: string, colour: string]> = [
  ["request", "#1f77b4"],
  ["pre-prepare", "#9467bd"],
  ["prepare", "#2ca02c"],
  ["commit", "#ff7f0e"],
  ["reply", "#17becf"],
  ["checkpoint", "#8c564b"],
  ["view-change", "#d62728"],
  ["new-view", "#e377c2"],
];

const fixed = new Map<string, string>(pbftPhases);

const palette = ["#4e79a7", "#59a14f", "#b07aa1", "#9c755f", "#76b7b2", "#edc948", "#bab0ac", "#f28e2b"];

export function labelColour(label: string): string {
  const known = fixed.get(label);
  if (known !== undefined) return known;
  let h = 0;
  for (let k = 0; k < label.length; k++) h = (h * 31 + label.charCodeAt(k)) >>> 0;
  return palette[h % palette.length] as string;
}

/** Node events that are not messages: how they are drawn. */
export const markerKinds: ReadonlyArray<[kind: TraceKind, colour: string, meaning: string]> = [
  ["crash", "#d62728", "crash"],
  ["restart", "#2ca02c", "restart"],
  ["failstop", "#000000", "fail-stop"],
  ["pause", "#bcbd22", "pause"],
  ["resume", "#bcbd22", "resume"],
];

export const byzantineColour = "#c0392b";
export const backwardColour = "#e00000";
