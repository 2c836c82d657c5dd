/**
 * Valency (FLP, section 3): the set of decisions reachable from a configuration. Bivalent: both
 * bits are still reachable; 0-valent or 1-valent: only one is. Computed exactly, by exhaustive
 * search over every schedule: the configurations reachable from a root, named by
 * `configurationKey` (so a configuration met again, even rounds later, is explored once), form a
 * finite graph whose sinks are the decided configurations. A bit is reachable from a node iff a
 * path leads to a sink deciding it, found by propagating backwards from the sinks.
 *
 * The search ends because without a decision processes cannot drift far apart in rounds: two
 * of three that run on without the third decide within about two rounds. `configsMax` bounds
 * it anyway (n = 4 passes it): a graph too large ends the run with LIMIT_EXCEEDED.
 */
import { PhalanxError } from "../../core/errors.ts";
import {
  applyEvent,
  type Configuration,
  configurationKey,
  decisionOf,
  enabledEvents,
  type FlpEvent,
  withoutStale,
} from "./model.ts";
import type { Bit, FlpParams } from "./protocol.ts";

/** Bit mask of reachable decisions: 1 for 0, 2 for 1. */
export type Valency = 0 | 1 | 2 | 3;
export const bivalent: Valency = 3;

export function valencyOfBit(b: Bit): Valency {
  return b === 0 ? 1 : 2;
}

export function describeValency(v: Valency): string {
  return v === 3 ? "bivalent" : v === 1 ? "0-valent" : v === 2 ? "1-valent" : "no decision reachable";
}

/** Configurations the exhaustive search may hold: n = 3 needs about 80,000. */
export const configsMaxDefault = 3_000_000;

/** Valencies, memoized across calls. An oracle that threw LIMIT_EXCEEDED is half-built: drop it. */
export class ValencyOracle {
  private readonly ids = new Map<string, number>();
  private readonly masks: Valency[] = [];
  private readonly preds: number[][] = [];

  constructor(
    private readonly params: FlpParams,
    private readonly configsMax = configsMaxDefault,
  ) {}

  /** Configurations explored so far (all roots together). */
  get size(): number {
    return this.masks.length;
  }

  valency(c: Configuration): Valency {
    const d = decisionOf(c);
    if (d !== null) return valencyOfBit(d);
    const key = configurationKey(c);
    const known = this.ids.get(key);
    if (known !== undefined) return this.masks[known] as Valency;
    return this.masks[this.explore(c, key)] as Valency;
  }

  isBivalent(c: Configuration): boolean {
    return this.valency(c) === bivalent;
  }

  /**
   * A shortest schedule from `c` to a configuration deciding `bit` (null if none exists): the
   * witness that the bit is reachable, replayable with `applyEvent` alone.
   */
  witness(c: Configuration, bit: Bit): FlpEvent[] | null {
    const want = valencyOfBit(bit);
    if ((this.valency(c) & want) === 0) return null;
    /** How the search reached each configuration; null for the root. */
    const parent = new Map<string, { from: string; event: FlpEvent } | null>();
    const rootKey = configurationKey(c);
    parent.set(rootKey, null);
    let frontier: Array<{ c: Configuration; key: string }> = [{ c, key: rootKey }];
    while (frontier.length > 0) {
      const next: typeof frontier = [];
      for (const node of frontier) {
        for (const e of enabledEvents(node.c)) {
          const s = applyEvent(this.params, node.c, e);
          if (decisionOf(s) === bit) return [...this.pathTo(parent, node.key), e];
          if (decisionOf(s) !== null || (this.valency(s) & want) === 0) continue;
          const key = configurationKey(s);
          if (parent.has(key)) continue;
          parent.set(key, { from: node.key, event: e });
          next.push({ c: s, key });
        }
      }
      frontier = next;
    }
    return null;
  }

  private pathTo(parent: Map<string, { from: string; event: FlpEvent } | null>, key: string): FlpEvent[] {
    const path: FlpEvent[] = [];
    for (let p = parent.get(key); p != null; p = parent.get(p.from)) path.push(p.event);
    return path.reverse();
  }

  /** Explores everything reachable from `root` that is not known yet; returns root's id. */
  private explore(root: Configuration, rootKey: string): number {
    const firstNew = this.masks.length;
    const rootId = this.add(rootKey);
    const queue: Array<{ id: number; c: Configuration }> = [{ id: rootId, c: withoutStale(root) }];
    /** Known nodes that new ones lead to (their masks are final): where propagation starts. */
    const seeds: number[] = [];
    // Breadth first, and without ignored messages, so that representatives stay small.
    for (let head = 0; head < queue.length; head++) {
      const { id, c } = queue[head] as { id: number; c: Configuration };
      for (const e of enabledEvents(c)) {
        const s = withoutStale(applyEvent(this.params, c, e));
        const d = decisionOf(s);
        if (d !== null) {
          this.masks[id] = ((this.masks[id] as Valency) | valencyOfBit(d)) as Valency;
          continue;
        }
        const key = configurationKey(s);
        let sid = this.ids.get(key);
        if (sid === undefined) {
          sid = this.add(key);
          queue.push({ id: sid, c: s });
        } else if (sid < firstNew) {
          seeds.push(sid);
        }
        if (sid !== id) (this.preds[sid] as number[]).push(id);
      }
    }
    for (let id = firstNew; id < this.masks.length; id++) if (this.masks[id] !== 0) seeds.push(id);
    this.propagate(seeds);
    return rootId;
  }

  private add(key: string): number {
    if (this.masks.length >= this.configsMax) {
      throw new PhalanxError(
        "LIMIT_EXCEEDED",
        `valency search passed ${this.configsMax} configurations; use fewer nodes`,
      );
    }
    const id = this.masks.length;
    this.ids.set(key, id);
    this.masks.push(0);
    this.preds.push([]);
    return id;
  }

  /** A node reaches every decision one of its successors reaches: push masks up to predecessors. */
  private propagate(seeds: number[]): void {
    const work = seeds;
    while (work.length > 0) {
      const id = work.pop() as number;
      const m = this.masks[id] as Valency;
      for (const p of this.preds[id] as number[]) {
        const pm = this.masks[p] as Valency;
        if ((pm | m) !== pm) {
          this.masks[p] = (pm | m) as Valency;
          work.push(p);
        }
      }
    }
  }
}
