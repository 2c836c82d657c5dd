import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isPhalanxError } from "../../src/core/errors.ts";
import type { NodeId } from "../../src/core/ids.ts";
import type { Context, Process } from "../../src/core/process.ts";
import { type LocalClock, Simulation } from "../../src/sim/simulation.ts";

const N = (x: number) => x as NodeId;

class Clocked implements Process<never, number> {
  ctx: Context<never, number> | null = null;
  constructor(
    private readonly timerMs: number,
    private readonly fired: Array<{ node: NodeId; virtual: number; local: number; tag: number }>,
    private readonly virtualNow: () => number,
  ) {}
  start(ctx: Context<never, number>): void {
    this.ctx = ctx;
    ctx.setTimer(this.timerMs, this.timerMs);
  }
  receive(): void {}
  timeout(ctx: Context<never, number>, tag: number): void {
    this.fired.push({ node: ctx.self, virtual: this.virtualNow(), local: ctx.now(), tag });
  }
}

const close = (a: number, b: number, what: string) =>
  assert.ok(Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);

describe("local clocks", () => {
  const clocks = new Map<NodeId, LocalClock>([
    [N(0), { offsetMs: 0, driftPpm: 0 }],
    [N(1), { offsetMs: 1000, driftPpm: 100 }],
    [N(2), { offsetMs: -250, driftPpm: -200 }],
    [N(3), { offsetMs: 5, driftPpm: 250_000 }],
    [N(4), { offsetMs: 0, driftPpm: -500_000 }],
  ]);

  function run(timerMs: number) {
    const fired: Array<{ node: NodeId; virtual: number; local: number; tag: number }> = [];
    let sim: Simulation<never, number> | null = null;
    sim = new Simulation<never, number>({
      seed: 1,
      nodes: 5,
      clocks,
      factory: () => new Clocked(timerMs, fired, () => (sim as Simulation<never, number>).now),
    });
    return { sim, fired };
  }

  it("ctx.now() = offset + t * (1 + ppm / 1e6) at every virtual time", () => {
    const { sim } = run(1e9);
    const samples: Array<[NodeId, number, number]> = [];
    sim.start(); // node starts at time 0 are queued before the samples at time 0
    for (const t of [0, 1, 17.5, 1000, 123456]) {
      sim.at(t, () => {
        for (const node of sim.nodes) {
          const p = sim.process(node) as Clocked;
          samples.push([node, t, (p.ctx as Context<never, number>).now()]);
        }
      });
    }
    sim.runUntil(200_000);
    assert.equal(samples.length, 25);
    for (const [node, t, local] of samples) {
      const c = clocks.get(node) as LocalClock;
      close(local, c.offsetMs + t * (1 + c.driftPpm / 1e6), `node ${node} at ${t}`);
    }
  });

  it("a timer of local duration D fires after D / (1 + ppm / 1e6) of virtual time", () => {
    const D = 1000;
    const { sim, fired } = run(D);
    sim.runUntilQuiescent();
    assert.equal(fired.length, 5);
    for (const f of fired) {
      const c = clocks.get(f.node) as LocalClock;
      const rate = 1 + c.driftPpm / 1e6;
      close(f.virtual, D / rate, `node ${f.node} virtual`);
      close(f.local, c.offsetMs + D, `node ${f.node} local`);
    }
    // A fast clock (node 3, +25%) fires first; a slow one (node 4, -50%) fires last, at 2 s.
    assert.deepEqual(
      fired.map((f) => f.node),
      [3, 1, 0, 2, 4],
    );
    close((fired[4] as { virtual: number }).virtual, 2000, "slow node");
  });

  it("setClock changes the clock from then on", () => {
    const { sim } = run(1e9);
    sim.runUntil(100);
    sim.setClock(N(0), { offsetMs: 7, driftPpm: 1000 });
    const ctx = (sim.process(N(0)) as Clocked).ctx as Context<never, number>;
    close(ctx.now(), 7 + 100 * 1.001, "after setClock");
  });

  it("a drift of -1e6 ppm or less (a stopped or backward clock) is refused", () => {
    assert.throws(
      () =>
        new Simulation<never, number>({
          seed: 1,
          nodes: 1,
          clocks: new Map([[N(0), { offsetMs: 0, driftPpm: -1e6 }]]),
          factory: () => new Clocked(1, [], () => 0),
        }),
      (e: unknown) => isPhalanxError(e, "BAD_CONFIG"),
    );
  });
});
