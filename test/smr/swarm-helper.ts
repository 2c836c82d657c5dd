/** Shared body of the PBFT swarm test files (split in two so the test runner uses both cores). */
import assert from "node:assert/strict";
import { pbftSpec } from "../../src/scenarios/pbft.ts";
import { runSwarm } from "../../src/sim/run.ts";

export function pbftSwarm(from: number, to: number): void {
  const result = runSwarm(pbftSpec, { from, to });
  const report = result.failures
    .map(
      (f) =>
        `seed ${f.seed}: ${f.violations.map((v) => `[${v.checker}] ${v.message}`).join("; ")}${f.error ?? ""}\n  replay: ${f.command}`,
    )
    .join("\n");
  assert.equal(result.seeds, to - from + 1);
  assert.equal(result.failures.length, 0, `failing seeds:\n${report}`);
}
