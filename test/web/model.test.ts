/**
 * The viewer's trace model under Node: happens-before from the vector clocks must agree with the
 * message graph (program order plus send → receive), and the backward messages of a cut with
 * the simulator's own cut checker, on real simulator traces.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import { protocolSpec } from "../../src/protocols.ts";
import { runScenario } from "../../src/sim/run.ts";
import { checkCut } from "../../src/sim/trace.ts";
import {
  backwardMessages,
  fullCut,
  ownIndex,
  parseTrace,
  relation,
  type Trace,
  TraceFormatError,
} from "../../web/src/model.ts";

const fixture = readFileSync(join(import.meta.dirname, "fixtures/gossip-chaos-seed3.jsonl"), "utf8");

/** Happens-before by reachability in the event graph, without looking at any clock. */
function reachability(trace: Trace): Map<number, Set<number>> {
  const stamped = trace.events.filter((e) => e.vt !== undefined);
  const succ = new Map<number, number[]>();
  const add = (a: number, b: number) => {
    const list = succ.get(a) ?? [];
    list.push(b);
    succ.set(a, list);
  };
  for (const list of trace.byNode.values())
    for (let k = 1; k < list.length; k++) add(list[k - 1]!.i, list[k]!.i);
  for (const m of trace.messages) for (const r of m.recvs) if (m.send) add(m.send.i, r.i);
  const future = new Map<number, Set<number>>();
  // Events are in a causal order in the trace, so a reverse sweep sees successors first.
  for (const e of [...stamped].reverse()) {
    const set = new Set<number>();
    for (const s of succ.get(e.i) ?? []) {
      set.add(s);
      for (const x of future.get(s) ?? []) set.add(x);
    }
    future.set(e.i, set);
  }
  return future;
}

describe("viewer trace model", () => {
  it("happens-before from vector clocks equals reachability in the message graph (fixture)", () => {
    const trace = parseTrace(fixture);
    const future = reachability(trace);
    const stamped = trace.events.filter((e) => e.vt !== undefined);
    let pairs = 0;
    for (const e of stamped) {
      for (const x of stamped) {
        const r = relation(e, x);
        const expected =
          x === e
            ? "self"
            : future.get(x.i)?.has(e.i)
              ? "past"
              : future.get(e.i)?.has(x.i)
                ? "future"
                : "concurrent";
        assert.equal(r, expected, `event ${e.i} vs ${x.i}`);
        pairs++;
      }
    }
    assert.ok(pairs > 200_000, `${pairs} pairs compared`);
  });

  it("backward messages of random cuts equal the simulator's cut checker", () => {
    const trace = parseTrace(fixture);
    const nodes = trace.nodes;
    const lengths = nodes.map((n) => trace.byNode.get(n)?.length ?? 0);
    let inconsistent = 0;
    fc.assert(
      fc.property(fc.tuple(...lengths.map((len) => fc.integer({ min: 0, max: len }))), (counts) => {
        const cut = new Map(nodes.map((n, k) => [n, counts[k] as number]));
        const mine = backwardMessages(trace, cut)
          .map((m) => m.id)
          .sort((a, b) => a - b);
        const verdict = checkCut(trace.events as never, cut);
        const theirs = verdict.consistent
          ? []
          : [...new Set(verdict.offending.map((o) => o.id))].sort((a, b) => a - b);
        if (theirs.length > 0) inconsistent++;
        assert.deepEqual(mine, theirs);
      }),
      { numRuns: 300, seed: 7 },
    );
    assert.ok(inconsistent > 50, `${inconsistent} of 300 random cuts inconsistent`);
    assert.deepEqual(backwardMessages(trace, fullCut(trace)), []);
  });

  it("reads a PBFT view-change trace: nodes, Byzantine primary, messages with both ends", () => {
    const r = runScenario(protocolSpec("pbft"), {
      seed: 1,
      trace: true,
      signatures: "fast",
      untilMs: 3000,
      byzantine: [{ node: 0 as never, strategy: "silent" }],
    });
    const trace = parseTrace(r.jsonl as string);
    assert.deepEqual(trace.nodes, [0, 1, 2, 3, 4, 5, 6]);
    assert.deepEqual([...trace.byzantine], [0]);
    const labels = new Set(trace.messages.map((m) => m.label));
    for (const l of ["request", "view-change", "new-view", "pre-prepare", "prepare", "commit", "reply"])
      assert.ok(labels.has(l), `label ${l}`);
    for (const m of trace.messages)
      for (const r of m.recvs) assert.ok(ownIndex(r) > 0 && m.send !== undefined);
  });

  it("bad input: garbage lines are skipped and counted; a file without events is an error", () => {
    const lines = fixture.split("\n");
    const damaged = [lines[0], "{not json", lines[1], '{"i":"x"}', ...lines.slice(2)].join("\n");
    const trace = parseTrace(damaged);
    assert.equal(trace.skipped.count, 2);
    assert.match(trace.skipped.first[0] as string, /line 2: not JSON/);
    assert.equal(trace.events.length, parseTrace(fixture).events.length);
    assert.throws(() => parseTrace("hello\nworld\n"), TraceFormatError);
    assert.throws(() => parseTrace(""), /no events/);
  });
});
