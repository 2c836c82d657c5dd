/**
 * The ground truth of the deadlock experiment. The simulator sees every node at once, so after
 * every event it can rebuild the real wait-for graph (graph.ts, `trueEdges`) at that instant
 * and judge the detectors against it: a reported cycle is real if it existed at some instant
 * while its detection ran, a phantom if it never existed at any one instant. It also keeps when
 * each wait-for edge existed, to show why a phantom's edges never met.
 */
import { assert } from "../../core/assert.ts";
import { type Cycle, deadlockKey, findCycles, nodesKey } from "./graph.ts";
import type { LocalEdge } from "./messages.ts";

/** When something existed: from `fromMs` up to `toMs` (null: still at the end of the run). */
export interface Interval {
  fromMs: number;
  toMs: number | null;
}

export interface TrueDeadlock {
  cycle: Cycle;
  formedAtMs: number;
  /** When the cycle broke (an aborted transaction left it), or null. */
  brokenAtMs: number | null;
}

export class GroundTruth {
  /** Node keys (graph.ts, `nodesKey`) of every cycle that existed at some instant. */
  readonly everSeen = new Set<string>();
  /** Every deadlock that formed, by `deadlockKey`. */
  readonly deadlocks = new Map<string, TrueDeadlock>();
  /** When each edge "p>q" (p waits for q) existed. */
  readonly edgeHistory = new Map<string, Interval[]>();
  /** Deadlocks that exist now, by `deadlockKey`. */
  present = new Map<string, Cycle>();
  private presentNodes = new Set<string>();
  private edgesNow = new Set<string>();
  /** Node keys of the cycles seen while each open detection runs. */
  private readonly windows = new Map<string, Set<string>>();

  /** Takes in the real graph at virtual time `tMs` (after an event). */
  observe(tMs: number, edges: readonly LocalEdge[]): void {
    this.trackEdges(tMs, edges);
    const cycles = edges.length < 2 ? [] : findCycles(edges);
    const present = new Map<string, Cycle>();
    for (const c of cycles) {
      const key = deadlockKey(c);
      present.set(key, c);
      if (!this.deadlocks.has(key)) this.deadlocks.set(key, { cycle: c, formedAtMs: tMs, brokenAtMs: null });
    }
    for (const key of this.present.keys()) {
      const d = this.deadlocks.get(key) as TrueDeadlock;
      if (!present.has(key)) d.brokenAtMs = tMs;
    }
    this.present = present;
    this.presentNodes = new Set(cycles.map(nodesKey));
    for (const k of this.presentNodes) {
      this.everSeen.add(k);
      for (const seen of this.windows.values()) seen.add(k);
    }
  }

  /** Starts collecting the cycles that exist while detection `name` runs. */
  openWindow(name: string): void {
    this.windows.set(name, new Set(this.presentNodes));
  }

  /** Node keys of every cycle that existed at some instant since `openWindow(name)`. */
  closeWindow(name: string): ReadonlySet<string> {
    const seen = this.windows.get(name);
    assert(seen !== undefined, `no open window ${name}`);
    this.windows.delete(name);
    return seen;
  }

  private trackEdges(tMs: number, edges: readonly LocalEdge[]): void {
    const now = new Set(edges.map((e) => `${e.waiter}>${e.holder}`));
    for (const k of this.edgesNow) {
      if (now.has(k)) continue;
      const list = this.edgeHistory.get(k) as Interval[];
      (list[list.length - 1] as Interval).toMs = tMs;
    }
    for (const k of now) {
      if (this.edgesNow.has(k)) continue;
      const list = this.edgeHistory.get(k) ?? [];
      list.push({ fromMs: tMs, toMs: null });
      this.edgeHistory.set(k, list);
    }
    this.edgesNow = now;
  }
}
