import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { NodeId } from "../../src/core/ids.ts";
import type { Context, Process, Storage } from "../../src/core/process.ts";
import { type GossipMsg, GossipNode, type GossipTimer } from "../../src/gossip/gossip.ts";
import { checkGossip, gossipSimOptions, gossipSpec } from "../../src/scenarios/gossip.ts";
import type { ProtocolSpec } from "../../src/sim/protocol.ts";
import { runScenario, runSwarm } from "../../src/sim/run.ts";
import { Simulation } from "../../src/sim/simulation.ts";

type Ctx = Context<GossipMsg, GossipTimer>;

/** A broken gossip node: the real one, but its storage ignores sync(), so nothing is ever made durable. */
class NoSyncGossip implements Process<GossipMsg, GossipTimer> {
  private readonly inner = new GossipNode(gossipSimOptions);
  private wrapped: Ctx | null = null;
  private wrap(ctx: Ctx): Ctx {
    if (this.wrapped === null) {
      const s = ctx.storage;
      const storage: Storage = {
        get: (k) => s.get(k),
        put: (k, v) => s.put(k, v),
        delete: (k) => s.delete(k),
        keys: (p) => s.keys(p),
        sync: () => {},
      };
      this.wrapped = new Proxy(ctx, {
        get(target, prop) {
          if (prop === "storage") return storage;
          const v = Reflect.get(target, prop, target);
          return typeof v === "function" ? v.bind(target) : v;
        },
      });
    }
    return this.wrapped;
  }
  start(ctx: Ctx): void {
    this.inner.start(this.wrap(ctx));
  }
  receive(ctx: Ctx, from: NodeId, msg: GossipMsg): void {
    this.inner.receive(this.wrap(ctx), from, msg);
  }
  timeout(ctx: Ctx, tag: GossipTimer): void {
    this.inner.timeout(this.wrap(ctx), tag);
  }
  known(): ReadonlySet<string> {
    return this.inner.known();
  }
}

const brokenSpec: ProtocolSpec<GossipMsg, GossipTimer> = {
  ...gossipSpec,
  name: "gossip-nosync",
  factory: () => () => new NoSyncGossip() as unknown as GossipNode,
};

describe("gossip swarm", () => {
  it("seeds 1..100 with a random fault mix each: no failures", () => {
    const seen: number[] = [];
    const r = runSwarm(gossipSpec, { from: 1, to: 100, onSeed: (seed) => seen.push(seed) });
    assert.equal(r.seeds, 100);
    assert.deepEqual(
      r.failures.map((f) => ({ seed: f.seed, violations: f.violations, error: f.error })),
      [],
    );
    assert.deepEqual(
      seen,
      Array.from({ length: 100 }, (_, i) => i + 1),
    );
  });

  it("the correct node survives crashes (control for the broken variant below)", () => {
    const r = runSwarm(gossipSpec, { from: 1, to: 12, faults: "crash" });
    assert.deepEqual(r.failures, []);
  });

  it("a node that never syncs its storage is caught by the checkers under crashes", () => {
    const r = runSwarm(brokenSpec, { from: 1, to: 12, faults: "crash" });
    assert.ok(r.failures.length > 0, "the swarm must find the missing sync");
    const checkers = new Set(r.failures.flatMap((f) => f.violations.map((v) => v.checker)));
    assert.ok(checkers.has("integrity"), `found: ${[...checkers].join(", ")}`);
    const f = r.failures[0];
    assert.match(
      f?.command ?? "",
      /^phalanx sim --protocol gossip-nosync --nodes 8 --seed \d+ --faults crash --signatures fast$/,
    );
  });

  it("the convergence checker reports a node that never receives anything", () => {
    const sim = new Simulation<GossipMsg, GossipTimer>({
      seed: 3,
      nodes: 5,
      factory: gossipSpec.factory([0, 1, 2, 3, 4] as NodeId[], 3, [0, 1, 2, 3, 4] as NodeId[]),
    });
    for (const from of sim.nodes) if (from !== 3) sim.blockLink(from, 3 as NodeId);
    sim.runUntil(1000);
    const all = [...sim.nodes];
    const violations = checkGossip(sim, { correct: all, correctUp: all, healed: true });
    const convergence = violations.filter((v) => v.checker === "convergence");
    assert.equal(convergence.length, 1);
    assert.match(convergence[0]?.message ?? "", /^after healing, node 3 lacks 12 rumor\(s\)/);
    // Without the liveness phase, the same run is not judged on convergence.
    assert.deepEqual(checkGossip(sim, { correct: all, correctUp: all, healed: false }), []);
  });

  it("runScenario reports what the checkers found and the plan it ran", () => {
    const r = runScenario(gossipSpec, { seed: 4, faults: "partition" });
    assert.deepEqual(r.violations, []);
    assert.equal(r.plan.profile, "partition");
    assert.ok(r.sim.stats.dropped.partition > 0);
    assert.equal(r.jsonl, undefined, "no trace unless asked");
  });
});
