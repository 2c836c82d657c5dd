/**
 * Seeds that once failed, replayed forever (each line names what was wrong).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { pbftSpec } from "../../src/scenarios/pbft.ts";
import { runScenario } from "../../src/sim/run.ts";

const cases: Array<{ seed: number; why: string }> = [
  {
    seed: 11,
    why: "a progress timer re-armed with a remainder of a few ulps spun forever at one virtual instant",
  },
  {
    seed: 161,
    why: "a primary restarted into an abandoned view proposed over a sequence number it had learned was committed (agreement broken)",
  },
  { seed: 39, why: "a replica timing out alone raced one view ahead of the others, so no view had a quorum" },
];

for (const c of cases) {
  test(`pbft swarm seed ${c.seed}: ${c.why}`, () => {
    const r = runScenario(pbftSpec, { seed: c.seed, faults: "swarm", signatures: "fast" });
    assert.deepEqual(r.violations, []);
    const completed = r.sim.outputs.filter((o) => (o.record as { kind: string }).kind === "complete").length;
    assert.equal(completed, 120, "every client operation completes");
  });
}
