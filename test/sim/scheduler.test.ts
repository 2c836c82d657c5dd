import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import type { Context, Process } from "../../src/core/process.ts";
import { EventQueue } from "../../src/sim/scheduler.ts";
import { Simulation } from "../../src/sim/simulation.ts";

/** A node that does nothing: the tests drive the simulator with control actions. */
class Idle implements Process<unknown, unknown> {
  start(): void {}
  receive(): void {}
  timeout(): void {}
}

/** Sets timers at the given local delays at start and logs which fired when. */
class TimerLog implements Process<unknown, string> {
  constructor(
    private readonly delays: ReadonlyArray<[number, string]>,
    private readonly log: Array<[number, string]>,
  ) {}
  start(ctx: Context<unknown, string>): void {
    for (const [d, tag] of this.delays) ctx.setTimer(d, tag);
  }
  receive(): void {}
  timeout(ctx: Context<unknown, string>, tag: string): void {
    this.log.push([ctx.now(), tag]);
  }
}

function idleSim(seed = 1): Simulation<unknown, unknown> {
  return new Simulation<unknown, unknown>({ seed, nodes: 2, factory: () => new Idle() });
}

describe("EventQueue", () => {
  it("pops events at equal times in insertion order", () => {
    const q = new EventQueue();
    const pushed: number[] = [];
    for (let i = 0; i < 20; i++) {
      const s = q.slab.alloc();
      q.slab.time[s] = i % 2 === 0 ? 5 : 3;
      q.slab.node[s] = i;
      q.push(s);
      pushed.push(i);
    }
    const out: number[] = [];
    for (let s = q.pop(); s >= 0; s = q.pop()) out.push(q.slab.node[s] as number);
    const odd = pushed.filter((i) => i % 2 === 1);
    const even = pushed.filter((i) => i % 2 === 0);
    assert.deepEqual(out, [...odd, ...even]);
    assert.equal(q.size, 0);
    assert.equal(q.peek(), -1);
    assert.equal(q.pop(), -1);
  });

  it("behaves like a stable sorted array (property, with slot reuse and growth)", () => {
    type Op = { push: number } | { pop: true };
    const op: fc.Arbitrary<Op> = fc.oneof(
      { weight: 3, arbitrary: fc.integer({ min: 0, max: 20 }).map((t) => ({ push: t / 2 })) },
      { weight: 2, arbitrary: fc.constant({ pop: true as const }) },
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 3000 }), (ops) => {
        const q = new EventQueue();
        // Model: array of [time, label] kept sorted by time, ties in insertion order.
        const model: Array<[number, number]> = [];
        let label = 0;
        for (const o of ops) {
          if ("push" in o) {
            const s = q.slab.alloc();
            q.slab.time[s] = o.push;
            q.slab.msgId[s] = label;
            q.push(s);
            let k = model.length;
            while (k > 0 && (model[k - 1] as [number, number])[0] > o.push) k--;
            model.splice(k, 0, [o.push, label]);
            label++;
          } else {
            const s = q.pop();
            const m = model.shift();
            if (m === undefined) {
              assert.equal(s, -1);
              continue;
            }
            assert.ok(s >= 0);
            assert.deepEqual([q.slab.time[s], q.slab.msgId[s]], m);
            q.slab.release(s);
          }
          assert.equal(q.size, model.length);
          const top = q.peek();
          if (model.length === 0) assert.equal(top, -1);
          else assert.equal(q.slab.msgId[top], (model[0] as [number, number])[1]);
        }
      }),
      { numRuns: 100 },
    );
  });

  it("refuses a non-finite event time", () => {
    const q = new EventQueue();
    const s = q.slab.alloc();
    q.slab.time[s] = Number.NaN;
    assert.throws(() => q.push(s), /finite/);
  });
});

describe("Simulation scheduling", () => {
  it("control actions at equal times run in the order they were scheduled", () => {
    const sim = idleSim();
    const log: string[] = [];
    for (const name of ["a", "b", "c", "d", "e"]) sim.at(10, () => log.push(name));
    sim.at(5, () => log.push("early"));
    sim.at(10, () => log.push("f"));
    sim.runUntilQuiescent();
    assert.deepEqual(log, ["early", "a", "b", "c", "d", "e", "f"]);
  });

  it("timers at equal times fire in the order they were set", () => {
    const log: Array<[number, string]> = [];
    const sim = new Simulation<unknown, string>({
      seed: 1,
      nodes: 1,
      factory: () =>
        new TimerLog(
          [
            [7, "x"],
            [3, "y"],
            [7, "z"],
            [7, "w"],
          ],
          log,
        ),
    });
    sim.runUntilQuiescent();
    assert.deepEqual(log, [
      [3, "y"],
      [7, "x"],
      [7, "z"],
      [7, "w"],
    ]);
  });

  it("runUntil runs events up to and including the time, then sets the clock to it", () => {
    const sim = idleSim();
    const ran: number[] = [];
    for (const t of [5, 10, 10.0001, 20]) sim.at(t, () => ran.push(t));
    sim.runUntil(10);
    assert.deepEqual(ran, [5, 10]);
    assert.equal(sim.now, 10);
    sim.runUntil(15);
    assert.deepEqual(ran, [5, 10, 10.0001]);
    assert.equal(sim.now, 15, "the clock moves to the target even with no event there");
    sim.runUntil(12);
    assert.equal(sim.now, 15, "the clock never goes back");
    sim.runUntil(100);
    assert.deepEqual(ran, [5, 10, 10.0001, 20]);
    assert.equal(sim.now, 100);
    assert.equal(sim.pendingEvents, 0);
  });

  it("at() in the past runs now, not before", () => {
    const sim = idleSim();
    sim.runUntil(50);
    let ranAt = -1;
    sim.at(10, () => {
      ranAt = sim.now;
    });
    sim.runUntil(60);
    assert.equal(ranAt, 50);
  });

  it("runUntilPredicate stops right after the event that makes it true, or at the time limit", () => {
    const sim = idleSim();
    let counter = 0;
    for (let t = 1; t <= 10; t++) sim.at(t * 10, () => counter++);
    assert.equal(
      sim.runUntilPredicate(() => counter === 3, 1000),
      true,
    );
    assert.equal(sim.now, 30);
    assert.equal(counter, 3);
    assert.equal(
      sim.runUntilPredicate(() => counter === 100, 75),
      false,
    );
    assert.equal(counter, 7, "events after the time limit stay queued");
    assert.ok(sim.now <= 75);
    assert.equal(
      sim.runUntilPredicate(() => counter >= 7, 75),
      true,
      "true at once when it already holds",
    );
  });

  it("step executes one event at a time and returns false when nothing is left", () => {
    const sim = idleSim();
    const ran: number[] = [];
    sim.at(1, () => ran.push(1));
    sim.at(2, () => ran.push(2));
    // The first steps run the two node starts at time 0.
    assert.equal(sim.step(), true);
    assert.equal(sim.step(), true);
    assert.deepEqual(ran, []);
    assert.equal(sim.step(), true);
    assert.deepEqual(ran, [1]);
    assert.equal(sim.now, 1);
    assert.equal(sim.step(), true);
    assert.deepEqual(ran, [1, 2]);
    assert.equal(sim.step(), false);
    assert.equal(sim.step(), false);
    assert.equal(sim.stats.events, 4);
  });

  it("runUntilQuiescent returns the number of events run and honours its bound", () => {
    const sim = idleSim();
    for (let t = 1; t <= 5; t++) sim.at(t, () => {});
    assert.equal(sim.runUntilQuiescent(3), 3);
    assert.equal(sim.runUntilQuiescent(), 4, "2 starts + 5 actions = 7 in all");
    assert.equal(sim.runUntilQuiescent(), 0);
  });
});
