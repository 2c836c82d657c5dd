import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { gossipSpec } from "../../src/scenarios/gossip.ts";
import { runScenario } from "../../src/sim/run.ts";
import { traceHash } from "../../src/sim/trace.ts";

function traced(seed: number, faults: string) {
  const r = runScenario(gossipSpec, { seed, faults, trace: true });
  assert.equal(typeof r.jsonl, "string");
  return { jsonl: r.jsonl as string, hash: r.traceHash as string, stats: r.sim.stats };
}

describe("determinism", () => {
  for (const faults of ["chaos", "swarm"]) {
    it(`the same seed and options give byte-identical JSONL traces (faults ${faults})`, () => {
      for (const seed of [1, 2, 3]) {
        const a = traced(seed, faults);
        const b = traced(seed, faults);
        assert.ok(a.jsonl.split("\n").length > 1000, "a substantial trace");
        assert.equal(a.jsonl, b.jsonl);
        assert.equal(a.hash, b.hash);
        assert.equal(a.hash, traceHash(a.jsonl));
        assert.match(a.hash, /^[0-9a-f]{64}$/);
        assert.deepEqual(a.stats, b.stats);
      }
    });

    it(`different seeds give different traces (faults ${faults})`, () => {
      const hashes = new Set([1, 2, 3, 4, 5].map((seed) => traced(seed, faults).hash));
      assert.equal(hashes.size, 5);
    });
  }

  it("the chaos trace really has faults in it (so determinism is tested under faults)", () => {
    const text = traced(1, "chaos").jsonl;
    for (const kind of ['"kind":"drop"', '"kind":"crash"', '"kind":"restart"', '"reason":"loss"'])
      assert.ok(text.includes(kind), `no ${kind}`);
  });

  it("the trace header names the protocol, seed and faults", () => {
    const first = traced(9, "chaos").jsonl.split("\n")[0] as string;
    const header = JSON.parse(first);
    assert.equal(header.kind, "header");
    assert.equal(header.format, "phalanx-trace/1");
    assert.equal(header.protocol, "gossip");
    assert.equal(header.seed, 9);
    assert.equal(header.options.faults, "chaos");
  });
});
