/**
 * Seed 002, "Vector time and happens before": over random message histories, A -> B iff
 * VT(A) < VT(B), and A -> B implies LT(A) < LT(B) (and HLC(A) < HLC(B)). Happens-before is
 * computed independently, as reachability in the graph of program-order and send -> receive
 * edges (the seed's rules 1 and 2; rule 3, the transitive closure, is the reachability).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { compareHlc, type HlcTimestamp, HybridLogicalClock } from "../../src/clock/hlc.ts";
import { LamportClock, type LamportTime } from "../../src/clock/lamport.ts";
import { VectorClock, type VectorOrder } from "../../src/clock/vector.ts";
import { type NodeId, nodeId } from "../../src/core/ids.ts";

type Step =
  | { kind: "local"; at: number }
  | { kind: "send"; from: number; to: number }
  | { kind: "receive"; pick: number };

interface Run {
  processCount: number;
  /** Node ids: 0..k-1, or spread-out sparse ids, so both layouts are exercised. */
  sparseIds: boolean;
  /** Per-process physical clock skew in ms, for the HLC. */
  skewsMs: number[];
  steps: Step[];
}

interface Event {
  process: number;
  lt: LamportTime;
  vt: VectorClock;
  hlc: HlcTimestamp;
}

interface InFlight {
  sendEvent: number;
  to: number;
  lt: LamportTime;
  vt: VectorClock;
  hlc: HlcTimestamp;
}

const runArbitrary: fc.Arbitrary<Run> = fc.integer({ min: 2, max: 6 }).chain((processCount) =>
  fc.record({
    processCount: fc.constant(processCount),
    sparseIds: fc.boolean(),
    skewsMs: fc.array(fc.integer({ min: -20, max: 20 }), {
      minLength: processCount,
      maxLength: processCount,
    }),
    steps: fc.array(
      fc.oneof(
        fc.record({ kind: fc.constant("local" as const), at: fc.nat({ max: processCount - 1 }) }),
        fc.record({
          kind: fc.constant("send" as const),
          from: fc.nat({ max: processCount - 1 }),
          to: fc.nat({ max: processCount - 1 }),
        }),
        fc.record({ kind: fc.constant("receive" as const), pick: fc.nat() }),
      ),
      { minLength: 1, maxLength: 80, size: "max" },
    ),
  }),
);

/** Executes a run, stamping each event with all three clocks. Returns the events and the edges. */
function execute(run: Run): { events: Event[]; successors: number[][] } {
  const ids: NodeId[] = Array.from({ length: run.processCount }, (_, i) =>
    nodeId(run.sparseIds ? 3 + i * 14 + i * i : i),
  );
  const lamport = ids.map(() => new LamportClock());
  const vector: VectorClock[] = ids.map(() => VectorClock.empty());
  // Offsets stay within maxOffsetMs, so no receive is refused.
  const hlc = ids.map(() => new HybridLogicalClock({ maxOffsetMs: 100 }));
  const events: Event[] = [];
  const successors: number[][] = [];
  const lastEventAt: Array<number | undefined> = ids.map(() => undefined);
  const inFlight: InFlight[] = [];

  const record = (process: number, lt: LamportTime, vt: VectorClock, stamp: HlcTimestamp): number => {
    const index = events.length;
    events.push({ process, lt, vt, hlc: stamp });
    successors.push([]);
    const previous = lastEventAt[process];
    if (previous !== undefined) successors[previous]!.push(index); // program order
    lastEventAt[process] = index;
    return index;
  };

  run.steps.forEach((step, time) => {
    const physicalMs = (p: number): number => 1000 + time + run.skewsMs[p]!;
    switch (step.kind) {
      case "local": {
        const p = step.at;
        vector[p] = vector[p]!.tick(ids[p]!);
        record(p, lamport[p]!.tick(), vector[p]!, hlc[p]!.now(physicalMs(p)));
        break;
      }
      case "send": {
        const p = step.from;
        vector[p] = vector[p]!.tick(ids[p]!);
        const lt = lamport[p]!.tick();
        const stamp = hlc[p]!.now(physicalMs(p));
        const sendEvent = record(p, lt, vector[p]!, stamp);
        inFlight.push({ sendEvent, to: step.to, lt, vt: vector[p]!, hlc: stamp });
        break;
      }
      case "receive": {
        if (inFlight.length === 0) break;
        const [msg] = inFlight.splice(step.pick % inFlight.length, 1);
        const q = msg!.to;
        vector[q] = vector[q]!.merge(msg!.vt).tick(ids[q]!);
        const result = hlc[q]!.receive(msg!.hlc, physicalMs(q));
        assert.ok(result.ok, "HLC refused a timestamp within maxOffsetMs");
        const receiveEvent = record(q, lamport[q]!.receive(msg!.lt), vector[q]!, result.timestamp);
        successors[msg!.sendEvent]!.push(receiveEvent); // send -> receive
        break;
      }
    }
  });
  return { events, successors };
}

/** reachable[a][b] iff there is a non-empty path a -> ... -> b: plain depth-first search. */
function happensBefore(successors: number[][]): boolean[][] {
  return successors.map((_, start) => {
    const reached = successors.map(() => false);
    const stack = [...successors[start]!];
    while (stack.length > 0) {
      const next = stack.pop()!;
      if (reached[next]) continue;
      reached[next] = true;
      stack.push(...successors[next]!);
    }
    return reached;
  });
}

describe("clocks against happens-before over random message histories", () => {
  it("A -> B iff VT(A) < VT(B); A -> B implies LT(A) < LT(B) and HLC(A) < HLC(B)", () => {
    let eventsChecked = 0;
    let concurrentPairs = 0;
    let causalPairs = 0;
    fc.assert(
      fc.property(runArbitrary, (run) => {
        const { events, successors } = execute(run);
        const hb = happensBefore(successors);
        for (let a = 0; a < events.length; a++) {
          for (let b = 0; b < events.length; b++) {
            const A = events[a]!;
            const B = events[b]!;
            const aBeforeB = hb[a]![b]!;
            const bBeforeA = hb[b]![a]!;
            assert.ok(!(aBeforeB && bBeforeA), "happens-before is acyclic");
            const expected: VectorOrder =
              a === b ? "equal" : aBeforeB ? "before" : bBeforeA ? "after" : "concurrent";
            const context = `events ${a}@p${A.process} ${A.vt} and ${b}@p${B.process} ${B.vt}`;
            assert.equal(VectorClock.compare(A.vt, B.vt), expected, context);
            assert.equal(A.vt.lt(B.vt), aBeforeB, context);
            if (aBeforeB) {
              assert.ok(A.lt < B.lt, `LT: ${context}`);
              assert.ok(compareHlc(A.hlc, B.hlc) < 0, `HLC: ${context}`);
              causalPairs += 1;
            } else if (!bBeforeA && a !== b) {
              concurrentPairs += 1;
            }
          }
        }
        eventsChecked += events.length;
      }),
      { numRuns: 300 },
    );
    // Guard against a generator that only makes trivial histories.
    assert.ok(eventsChecked > 3000, `only ${eventsChecked} events checked`);
    assert.ok(
      causalPairs > 1000 && concurrentPairs > 1000,
      `${causalPairs} causal, ${concurrentPairs} concurrent`,
    );
  });
});
