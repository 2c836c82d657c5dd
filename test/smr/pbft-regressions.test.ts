/**
 * Seeds that once failed, replayed forever (each line names what was wrong).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { nodeId, nodeIds } from "../../src/core/ids.ts";
import { pbftSpec } from "../../src/scenarios/pbft.ts";
import { type FaultPlan, randomPlan } from "../../src/sim/faults.ts";
import { runScenario } from "../../src/sim/run.ts";

/**
 * `byzantine` pins the strategies the seed drew when it failed: the swarm's strategy list has
 * grown since, which changes what a seed draws.
 */
const cases: Array<{ seed: number; why: string; byzantine?: FaultPlan["byzantine"] }> = [
  {
    seed: 11,
    why: "a progress timer re-armed with a remainder of a few ulps spun forever at one virtual instant",
  },
  {
    seed: 161,
    why: "a primary restarted into an abandoned view proposed over a sequence number it had learned was committed (agreement broken)",
  },
  {
    seed: 11975,
    why: "replicas cut off during a view change never got its NEW-VIEW once the new primary had moved on (liveness)",
    byzantine: [{ node: nodeId(1), strategy: "bad-mac" }],
  },
  {
    seed: 5595,
    why: "17% loss and a silent replica: views kept changing and no request completed after healing (fixed with 11975)",
    byzantine: [{ node: nodeId(3), strategy: "silent" }],
  },
  {
    seed: 3131,
    why: "the primary of a stalled view never suspected itself and the one replica that did could not start a view change alone",
    byzantine: [{ node: nodeId(3), strategy: "bad-signature" }],
  },
  {
    seed: 39,
    why: "a replica timing out alone raced one view ahead of the others, so no view had a quorum",
    byzantine: [{ node: nodeId(1), strategy: "bad-signature" }],
  },
];

for (const c of cases) {
  test(`pbft swarm seed ${c.seed}: ${c.why}`, () => {
    const plan = randomPlan(c.seed, nodeIds(4), pbftSpec.tolerance(4), pbftSpec.defaultHealAtMs);
    if (c.byzantine !== undefined) {
      assert.equal(
        plan.byzantine.length,
        c.byzantine.length,
        "the seed still draws the same faulty replicas",
      );
      plan.byzantine = c.byzantine;
    }
    const r = runScenario(pbftSpec, { seed: c.seed, faults: plan, signatures: "fast" });
    assert.deepEqual(r.violations, []);
    const completed = r.sim.outputs.filter((o) => (o.record as { kind: string }).kind === "complete").length;
    assert.equal(completed, 120, "every client operation completes");
  });
}

test("equivocating primary under 5% loss, seeds 1, 2, 10, 24: a replica executed an earlier view's batch under the new view's digest", () => {
  for (const seed of [1, 2, 10, 24]) {
    const plan: FaultPlan = {
      profile: "equivocating-primary",
      link: { lossProb: 0.05 },
      clocks: [],
      byzantine: [{ node: nodeId(0), strategy: "equivocate" }],
      schedule: [],
      healAtMs: 6000,
    };
    const r = runScenario(pbftSpec, { seed, faults: plan, signatures: "fast" });
    assert.deepEqual(r.violations, [], `seed ${seed}`);
    assert.ok(
      r.sim.outputs.some((o) => (o.record as { kind: string }).kind === "new-view"),
      "the equivocation forced a view change",
    );
  }
});
