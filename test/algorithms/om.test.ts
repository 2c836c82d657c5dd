import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import { checkGenerals, type Order, orders, placements } from "../../src/algorithms/generals/common.ts";
import {
  algorithm,
  findCounterexample,
  majority,
  OmGeneral,
  type OmMsg,
  type OmOutcome,
  type OmScenario,
  type omAdversary,
  omMessageCount,
  omStrategies,
  runOm,
  traitorSlots,
} from "../../src/algorithms/generals/om.ts";
import type { AlgorithmOptions, AlgorithmResult } from "../../src/algorithms/types.ts";
import { isPhalanxError } from "../../src/core/errors.ts";
import { type NodeId, nodeIds } from "../../src/core/ids.ts";
import { duplicating, rewriting } from "../../src/sim/adversary/strategies.ts";
import { Simulation } from "../../src/sim/simulation.ts";

const N = (x: number) => x as NodeId;

function runAlgorithm(options: Partial<AlgorithmOptions>): AlgorithmResult {
  return algorithm.run({ seed: 1, settings: {}, ...options }) as AlgorithmResult;
}

/** The oracle, computed from the decisions alone (not through checkGenerals). */
function independentVerdict(o: OmOutcome): { agree: boolean; obey: boolean | null } {
  const s = o.scenario;
  const loyal = nodeIds(s.n).filter((id) => id !== s.commander && !s.traitors.includes(id));
  const decided = loyal.map((id) => o.decisions.get(id)?.value);
  const agree = decided.every((d) => d !== undefined && d === decided[0]);
  const obey = s.traitors.includes(s.commander) ? null : decided.every((d) => d === s.order);
  return { agree, obey };
}

function assertIc(o: OmOutcome): void {
  const what = JSON.stringify({ ...o.scenario, behaviour: String(o.scenario.behaviour) });
  const v = independentVerdict(o);
  assert.equal(v.agree, true, `IC1 broken: ${what}`);
  if (v.obey !== null) assert.equal(v.obey, true, `IC2 broken: ${what}`);
  assert.deepEqual(o.verdict.violations, [], what);
}

/** (n-1) + (n-1)(n-2) + ... + (n-1)...(n-m-1), written out once more. */
function formula(n: number, m: number): number {
  let total = 0;
  for (let k = 0; k <= m; k++) {
    let product = 1;
    for (let j = 1; j <= k + 1; j++) product *= n - j;
    total += product;
  }
  return total;
}

describe("OM(m) with n > 3m keeps IC1 and IC2", () => {
  for (const [n, m, commanders] of [
    [4, 1, [0, 2]],
    [7, 2, [0, 3]],
  ] as const) {
    it(`n = ${n}, m = ${m}: every placement of up to ${m} traitors (commander included), every strategy, both orders`, () => {
      let runs = 0;
      for (const commander of commanders.map(N)) {
        for (let size = 0; size <= m; size++) {
          for (const traitors of placements(nodeIds(n), size)) {
            for (const behaviour of omStrategies) {
              for (const order of orders) {
                for (const seed of behaviour === "random" ? [1, 2, 3] : [1]) {
                  assertIc(runOm({ n, m, commander, order, traitors, behaviour, seed }));
                  runs++;
                }
              }
            }
          }
        }
      }
      const placementCount = m === 1 ? 1 + n : 1 + n + (n * (n - 1)) / 2;
      assert.equal(runs, commanders.length * placementCount * (omStrategies.length + 2) * 2);
    });
  }

  it("n = 10, m = 3: every placement of exactly 3 traitors, every strategy, both orders", () => {
    for (const traitors of placements(nodeIds(10), 3)) {
      for (const behaviour of omStrategies) {
        for (const order of orders) {
          assertIc(runOm({ n: 10, m: 3, commander: N(0), order, traitors, behaviour, seed: 1 }));
        }
      }
    }
  });

  it("n = 4, m = 1: every deterministic behaviour of the traitor (each send attack, retreat or nothing)", () => {
    let runs = 0;
    for (const traitors of placements(nodeIds(4), 1)) {
      const slots = traitorSlots(nodeIds(4), 1, N(0), traitors);
      assert.equal(slots.length, traitors[0] === 0 ? 3 : 2);
      for (let code = 0; code < 3 ** slots.length; code++) {
        const script = new Map(
          slots.map((slot, i) => [
            slot,
            (["attack", "retreat", null] as const)[Math.floor(code / 3 ** i) % 3] ?? null,
          ]),
        );
        for (const order of orders) {
          assertIc(runOm({ n: 4, m: 1, commander: N(0), order, traitors, behaviour: script, seed: 1 }));
          runs++;
        }
      }
    }
    assert.equal(runs, (27 + 3 * 9) * 2);
  });

  it("random placements, commanders, strategies and seeds (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 4, max: 9 }),
        fc.integer({ min: 0, max: 8 }),
        fc.constantFrom(...omStrategies),
        fc.constantFrom(...orders),
        fc.integer({ min: 0, max: 1_000_000 }),
        fc.array(fc.integer({ min: 0, max: 8 }), { maxLength: 2 }),
        (n, c, behaviour, order, seed, picks) => {
          const m = Math.floor((n - 1) / 3);
          const traitors = [...new Set(picks.map((p) => p % n))].slice(0, m).map(N);
          assertIc(runOm({ n, m, commander: N(c % n), order, traitors, behaviour, seed }));
        },
      ),
      { numRuns: 150, seed: 42 },
    );
  });

  it("the command reports IC1 and IC2 holding, with votes and the commander's order obeyed", () => {
    const r = runAlgorithm({ nodes: 4, traitors: 1, strategy: "lie", settings: { traitors: "2" } });
    assert.equal(r.ok, true);
    assert.match(r.lines[0] ?? "", /IC1 and IC2 hold/);
    assert.equal(r.figures.ic1, true);
    assert.equal(r.figures.ic2, true);
    assert.equal(r.figures.decision, "attack");
    assert.ok(
      r.lines.includes("  lieutenant 1 (loyal): 0:attack 2:retreat 3:attack -> attack"),
      r.lines.join("\n"),
    );
    const traitorCommander = runAlgorithm({
      strategy: "split",
      settings: { traitors: "0", order: "retreat" },
    });
    assert.equal(traitorCommander.ok, true);
    assert.equal(traitorCommander.figures.ic2, null);
    assert.match(traitorCommander.lines.join("\n"), /IC2 .*does not apply/);
  });
});

describe("checkGenerals", () => {
  const nodes = nodeIds(4);
  const d = (values: Array<[number, Order]>) => new Map(values.map(([id, v]) => [N(id), v]));
  it("flags disagreement, an undecided loyal lieutenant and disobedience; IC2 is vacuous for a traitor commander", () => {
    const disagree = checkGenerals({
      nodes,
      commander: N(0),
      order: "attack",
      traitors: [N(3)],
      decisions: d([
        [1, "attack"],
        [2, "retreat"],
      ]),
    });
    assert.equal(disagree.ic1, false);
    assert.equal(disagree.ic2, false);
    const undecided = checkGenerals({
      nodes,
      commander: N(0),
      order: "attack",
      traitors: [],
      decisions: d([[1, "attack"]]),
    });
    assert.equal(undecided.ic1, false);
    const agreeWrong = checkGenerals({
      nodes,
      commander: N(0),
      order: "attack",
      traitors: [],
      decisions: d([
        [1, "retreat"],
        [2, "retreat"],
        [3, "retreat"],
      ]),
    });
    assert.equal(agreeWrong.ic1, true);
    assert.equal(agreeWrong.ic2, false);
    const vacuous = checkGenerals({
      nodes,
      commander: N(0),
      order: "attack",
      traitors: [N(0)],
      decisions: d([
        [1, "retreat"],
        [2, "retreat"],
        [3, "retreat"],
      ]),
    });
    assert.deepEqual(vacuous, { ic1: true, ic2: null, violations: [] });
  });

  it("majority: strict majority wins, a tie is retreat", () => {
    assert.equal(majority(["attack", "attack", "retreat"]), "attack");
    assert.equal(majority(["attack", "retreat"]), "retreat");
    assert.equal(majority(["retreat", "retreat", "attack"]), "retreat");
  });
});

describe("n <= 3m: the impossibility", () => {
  it("n = 3, m = 1: a counterexample is found, printed, and really breaks IC1 or IC2 when re-run", () => {
    const r = runAlgorithm({ nodes: 3, traitors: 1 });
    assert.equal(r.ok, true);
    assert.match(r.lines[0] ?? "", /counterexample found/);
    assert.match(r.lines[0] ?? "", /no oral-messages algorithm works when n <= 3m/);
    assert.equal(r.figures.counterexample, true);
    const f = r.figures;
    const rerun = runOm({
      n: 3,
      m: 1,
      commander: N(Number(f.commander)),
      order: f.order as Order,
      traitors: String(f.placement).split(", ").map(Number).map(N),
      behaviour: f.strategy as (typeof omStrategies)[number],
      seed: 1,
    });
    const v = independentVerdict(rerun);
    assert.ok(!v.agree || v.obey === false, "the printed scenario must break IC1 or IC2");
    assert.equal(f.broken, v.agree ? "IC2" : "IC1");
    // The classic case: a lying lieutenant makes the loyal one disobey a loyal commander, and the
    // loyal one could not tell that from a traitor commander who splits.
    assert.equal(f.broken, "IC2");
    assert.match(r.lines.join("\n"), /lieutenant 2 would receive exactly the same messages/);
  });

  it("the search falls back to scripted behaviours, and what it finds breaks a condition on re-run", () => {
    for (const [n, m] of [
      [3, 1],
      [4, 2],
    ] as const) {
      const search = findCounterexample({
        n,
        m,
        commander: N(0),
        orders,
        placements: placements(nodeIds(n), m),
        strategies: [],
        seed: 1,
      });
      assert.ok(search.found !== null, `n = ${n}, m = ${m}`);
      assert.equal(search.scripted, true);
      const again = runOm(search.found.scenario);
      const v = independentVerdict(again);
      assert.ok(!v.agree || v.obey === false);
      assert.deepEqual(
        [...again.decisions].map(([id, d]) => [id, d.value]),
        [...search.found.decisions].map(([id, d]) => [id, d.value]),
      );
    }
  });

  it("n = 4 and 6 with m = 2, n = 9 with m = 3: counterexamples found", () => {
    for (const [nodes, traitors] of [
      [4, 2],
      [6, 2],
      [9, 3],
    ] as const) {
      const r = runAlgorithm({ nodes, traitors });
      assert.equal(r.ok, true, r.lines.join("\n"));
      assert.equal(r.figures.counterexample, true);
    }
  });

  it("n = 3, m = 1 with a loyal retreat order: no behaviour at all breaks OM(1) (ties favour retreat)", () => {
    const r = runAlgorithm({ nodes: 3, traitors: 1, settings: { order: "retreat" } });
    assert.equal(r.ok, false);
    assert.equal(r.figures.counterexample, false);
    assert.equal(r.figures.searchComplete, true);
    // 3 placements x 4 strategies, then scripts: 9 for the commander, 3 for each lieutenant.
    assert.equal(r.figures.searchRuns, 12 + 9 + 3 + 3);
  });
});

describe("messages", () => {
  it("n = 10, m = 3: the count matches (n-1) + (n-1)(n-2) + (n-1)(n-2)(n-3) + (n-1)(n-2)(n-3)(n-4)", () => {
    const r = runAlgorithm({ nodes: 10, traitors: 3 });
    assert.equal(r.ok, true);
    assert.equal(formula(10, 3), 3609);
    assert.equal(omMessageCount(10, 3), 3609);
    assert.equal(r.figures.messages, 3609);
    assert.equal(r.figures.messagesExpected, 3609);
    const line = r.lines.find((l) => l.includes("messages"));
    assert.ok(line?.includes("3609 sent") && line.includes("= 3609"), line);
  });

  it("every n, m with n > 3m sends exactly the formula's count; silent traitors withhold theirs", () => {
    for (let n = 2; n <= 8; n++) {
      for (let m = 0; 3 * m < n; m++) {
        const o = runOm({ n, m, commander: N(0), order: "attack", traitors: [], behaviour: "lie", seed: 1 });
        assert.equal(o.messages, formula(n, m), `n = ${n}, m = ${m}`);
        assert.equal(omMessageCount(n, m), formula(n, m));
      }
    }
    // A silent lieutenant of OM(1) among 4 withholds its 2 relays; a silent commander its 3 orders.
    const quietLieutenant = runOm({
      n: 4,
      m: 1,
      commander: N(0),
      order: "attack",
      traitors: [N(1)],
      behaviour: "silent",
      seed: 1,
    });
    assert.equal(quietLieutenant.messages, 9 - 2);
    assert.equal(quietLieutenant.sim.counter("om.missing"), 2);
    const quietCommander = runOm({
      n: 4,
      m: 1,
      commander: N(0),
      order: "attack",
      traitors: [N(0)],
      behaviour: "silent",
      seed: 1,
    });
    assert.equal(quietCommander.messages, 9 - 3);
    for (const id of [1, 2, 3]) assert.equal(quietCommander.decisions.get(N(id))?.value, "retreat");
  });
});

describe("bad input from traitors", () => {
  function withAdversary(adv: ReturnType<typeof omAdversary>): Simulation<OmMsg, never> {
    const sim = new Simulation<OmMsg, never>({
      seed: 1,
      nodes: 4,
      factory: () => new OmGeneral({ commander: N(0), m: 1, order: "attack" }),
      rounds: { roundMs: 10, roundsMin: 2, roundsMax: 2 },
    });
    sim.setAdversary(N(1), adv);
    sim.runUntilQuiescent();
    return sim;
  }
  const decisionsOf = (sim: Simulation<OmMsg, never>) =>
    new Map(sim.outputs.map((o) => [o.node, (o.record as { value: Order }).value]));

  it("forged relay paths, wrong rounds, garbage and duplicates are dropped and counted; loyal generals still agree", () => {
    const forged = withAdversary(rewriting<OmMsg>("forge", (msg) => ({ ...msg, path: [0, 2] })));
    assert.equal(forged.counter("om.bad-path"), 2);
    const early = withAdversary(rewriting<OmMsg>("early", (msg) => ({ ...msg, path: [0] })));
    assert.equal(early.counter("om.wrong-round"), 2);
    const garbage = withAdversary(
      rewriting<OmMsg>("garbage", (msg) => ({ ...msg, value: "charge" as Order })),
    );
    assert.equal(garbage.counter("om.malformed"), 2);
    const twice = withAdversary(duplicating<OmMsg>(2));
    assert.equal(twice.counter("om.duplicate"), 2);
    for (const sim of [forged, early, garbage, twice]) {
      const d = decisionsOf(sim);
      assert.equal(d.get(N(2)), "attack");
      assert.equal(d.get(N(3)), "attack");
    }
  });
});

describe("options, determinism, trace", () => {
  it("rejects what it cannot run with BAD_ARGUMENT", () => {
    const bad: Array<Partial<AlgorithmOptions>> = [
      { strategy: "bribe" },
      { nodes: 1, traitors: 0 },
      { nodes: 2, traitors: 1 },
      { nodes: 4, traitors: -1 },
      { nodes: 40, traitors: 13 },
      { settings: { commander: "4" } },
      { settings: { order: "charge" } },
      { settings: { traitors: "1,2" } },
      { settings: { traitors: "1,1" } },
      { settings: { flank: "left" } },
    ];
    for (const options of bad) {
      assert.throws(
        () => runAlgorithm(options),
        (e) => isPhalanxError(e, "BAD_ARGUMENT"),
        JSON.stringify(options),
      );
    }
  });

  it("the same seed gives the same result; the seed draws the placement", () => {
    const options = { nodes: 7, traitors: 2, strategy: "random", seed: 11 };
    assert.deepEqual(runAlgorithm(options), runAlgorithm(options));
    const placementsSeen = new Set<string | number | boolean | null>();
    for (let seed = 1; seed <= 10; seed++)
      placementsSeen.add(runAlgorithm({ nodes: 7, traitors: 2, seed }).figures.placement ?? null);
    assert.ok(placementsSeen.size > 1);
    const scenario: OmScenario = {
      n: 7,
      m: 2,
      commander: N(0),
      order: "attack",
      traitors: [N(0), N(4)],
      behaviour: "random",
      seed: 5,
    };
    assert.deepEqual(runOm(scenario).decisions, runOm(scenario).decisions);
  });

  it("--trace writes the run's causal trace", () => {
    const dir = mkdtempSync(join(tmpdir(), "phalanx-om-"));
    try {
      const file = join(dir, "om.jsonl");
      const r = runAlgorithm({ nodes: 3, traitors: 1, trace: file });
      assert.equal(r.ok, true);
      const lines = (r.traceJsonl ?? "").trim().split("\n");
      const header = JSON.parse(lines[0] ?? "{}");
      assert.equal(header.protocol, "om");
      assert.deepEqual(header.byzantine, [1]);
      assert.equal(lines.filter((l) => l.includes('"kind":"send"')).length, 4);
      assert.ok(r.lines.some((l) => l.includes(file)));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
