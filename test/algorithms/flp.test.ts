/**
 * The FLP demonstration (src/algorithms/flp.ts). The bivalent run is re-checked from scratch:
 * its schedule is replayed event by event with the protocol's transition function alone, and at
 * every configuration two explicit schedules, one reaching decision 0 and one reaching 1, are
 * replayed too (bivalence needs nothing more). Univalent initial configurations are checked by
 * an enumeration written here, independent of the valency search. A fair random scheduler must
 * make the same protocol decide, on both bits across seeds and always in agreement, so that the
 * adversary, not a broken protocol, is what keeps the run undecided. The PBFT run must stall
 * under the network adversary, stay safe, and complete every request once it stops.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import {
  type BivalentRun,
  findSigma,
  lemma2Chain,
  runBivalent,
  stageEvent,
} from "../../src/algorithms/flp/adversary.ts";
import {
  applyEvent,
  type Configuration,
  decisionOf,
  enabledEvents,
  type FlpEvent,
  initialConfiguration,
} from "../../src/algorithms/flp/model.ts";
import { runPbftStall } from "../../src/algorithms/flp/pbft.ts";
import { type Bit, flpParams, isFlpMsg } from "../../src/algorithms/flp/protocol.ts";
import { bivalent, ValencyOracle } from "../../src/algorithms/flp/valency.ts";
import { algorithm } from "../../src/algorithms/flp.ts";
import type { AlgorithmOptions, AlgorithmResult } from "../../src/algorithms/types.ts";
import { isPhalanxError } from "../../src/core/errors.ts";
import { Prng } from "../../src/core/prng.ts";

const params = flpParams(3);
/** One exhaustive search shared by the tests (it is the expensive part: about 80,000 configurations). */
const oracle = new ValencyOracle(params);
const start: Bit[] = [1, 1, 0];
/** Steps of the re-checked bivalent run. */
const RUN_STEPS = 200;
/** Seeds of the fair random scheduler, and the steps it may take to decide. */
const RANDOM_SEEDS = 100;
const RANDOM_STEPS_MAX = 5_000;

function run(options: Partial<AlgorithmOptions>): AlgorithmResult {
  return algorithm.run({ seed: 1, settings: {}, ...options }) as AlgorithmResult;
}

function replay(c: Configuration, events: readonly FlpEvent[]): Configuration {
  let d = c;
  for (const e of events) d = applyEvent(params, d, e);
  return d;
}

/**
 * Decisions reachable from `root`, by enumerating every schedule up to the first decision
 * (finite only when every run decides within a few rounds). Configurations are told apart by
 * their processes and the messages their receivers can still count.
 */
function reachableDecisions(root: Configuration): Set<Bit> {
  const phase = (round: number, p: number) => 2 * round + p;
  const keyOf = (c: Configuration) =>
    JSON.stringify([
      c.procs.map((p) => ({ ...p, votes: p.votes.map((v) => JSON.stringify(v)).sort() })),
      c.buffer
        .filter((m) => {
          const to = c.procs[m.to];
          return (
            to !== undefined &&
            phase(m.msg.round, m.msg.type === "report" ? 1 : 2) >= phase(to.round, to.phase)
          );
        })
        .map((m) => JSON.stringify([m.from, m.to, m.msg]))
        .sort(),
    ]);
  const seen = new Set([keyOf(root)]);
  const out = new Set<Bit>();
  const queue = [root];
  for (let head = 0; head < queue.length; head++) {
    const c = queue[head] as Configuration;
    for (const e of enabledEvents(c)) {
      const d = applyEvent(params, c, e);
      const bit = decisionOf(d);
      if (bit !== null) {
        out.add(bit);
        continue;
      }
      const key = keyOf(d);
      if (seen.has(key)) continue;
      seen.add(key);
      queue.push(d);
      assert.ok(seen.size < 200_000, "the enumeration must stay finite");
    }
  }
  return out;
}

describe("flp: Lemma 2, a bivalent initial configuration", () => {
  it("the chain 000, 100, 110, 111 is 0-valent, 0-valent, bivalent, 1-valent", () => {
    const chain = lemma2Chain(params, oracle);
    assert.deepEqual(
      chain.map((l) => [l.inputs.join(""), l.valency]),
      [
        ["000", 1],
        ["100", 1],
        ["110", bivalent],
        ["111", 2],
      ],
    );
  });

  it("the univalent ones, by an independent enumeration of every schedule", () => {
    assert.deepEqual([...reachableDecisions(initialConfiguration([0, 0, 0]))], [0]);
    assert.deepEqual([...reachableDecisions(initialConfiguration([1, 0, 0]))], [0]);
    assert.deepEqual([...reachableDecisions(initialConfiguration([1, 1, 1]))], [1]);
  });

  it("110 is bivalent: replayed schedules reach decision 0 and decision 1", () => {
    const c = initialConfiguration(start);
    for (const bit of [0, 1] as const) {
      const w = oracle.witness(c, bit);
      assert.ok(w !== null);
      assert.equal(decisionOf(replay(c, w)), bit);
    }
  });

  it("no witness is offered for an unreachable decision", () => {
    assert.equal(oracle.witness(initialConfiguration([1, 0, 0]), 1), null);
    assert.equal(oracle.witness(initialConfiguration([1, 1, 1]), 0), null);
  });
});

describe(`flp: Lemma 3, the adversary keeps n = 3 bivalent for ${RUN_STEPS} steps`, () => {
  let r: BivalentRun;
  before(() => {
    r = runBivalent(params, oracle, start, RUN_STEPS, new Prng(1));
  });

  it("reports every step bivalent and no decision", () => {
    assert.equal(r.schedule.length, RUN_STEPS);
    assert.equal(r.allBivalent, true);
    assert.equal(r.stuckStage, null);
    assert.ok(r.final.procs.every((p) => p.decided === null));
  });

  it("re-checked: every configuration of the replayed run is undecided and has witnesses for 0 and 1", () => {
    let c = initialConfiguration(start);
    for (const e of r.schedule) {
      c = applyEvent(params, c, e);
      assert.equal(decisionOf(c), null);
      for (const bit of [0, 1] as const) {
        const w = oracle.witness(c, bit);
        assert.ok(w !== null, `step ${c.steps}: no schedule to ${bit}`);
        assert.equal(
          decisionOf(replay(c, w)),
          bit,
          `step ${c.steps}: the schedule to ${bit} does not decide it`,
        );
      }
    }
    assert.deepEqual(c, r.final);
    assert.ok(Math.min(...c.procs.map((p) => p.round)) >= 10, "the processes went through many rounds");
  });

  it("the adversary's choices matter: along the run some enabled events would end bivalence", () => {
    let c = initialConfiguration(start);
    let forks = 0;
    for (const e of r.schedule) {
      if (enabledEvents(c).some((x) => oracle.valency(applyEvent(params, c, x)) !== bivalent)) forks++;
      c = applyEvent(params, c, e);
    }
    assert.ok(forks >= RUN_STEPS / 10, `only ${forks} configurations had a univalent successor`);
    assert.ok(r.sigmaEvents > 0, "some stage had to delay its event (a non-empty sigma)");
  });

  it("Lemma 3's search: when e(C) is univalent, sigma is non-empty and e(sigma(C)) is bivalent", () => {
    let c = initialConfiguration(start);
    let checked = 0;
    for (const e of r.schedule) {
      for (let target = 0; target < params.n; target++) {
        const ev = stageEvent(c, target);
        const sigma = findSigma(params, oracle, c, ev, new Prng(target));
        assert.ok(sigma !== null);
        assert.ok(!sigma.some((x) => x.to === ev.to && x.id === ev.id), "sigma must not contain e");
        assert.equal(oracle.valency(applyEvent(params, replay(c, sigma), ev)), bivalent);
        if (oracle.valency(applyEvent(params, c, ev)) !== bivalent) {
          assert.ok(sigma.length > 0);
          checked++;
        }
      }
      c = applyEvent(params, c, e);
    }
    assert.ok(checked > 0, "some stage event would have ended bivalence directly");
  });

  it("is fair within the horizon: every process steps, no message waits long", () => {
    const n = params.n;
    assert.ok(r.stepsPerProcess.every((k) => k >= RUN_STEPS / n - 2));
    assert.ok(r.maxStepGap <= 2 * n, `a process was idle ${r.maxStepGap} steps`);
    assert.ok(r.maxDeliveryWait <= 16, `a message waited ${r.maxDeliveryWait} steps`);
    assert.ok(r.oldestPendingWait <= 16, `a message has waited ${r.oldestPendingWait} steps`);
    assert.equal(r.delivered + r.pendingAtEnd, r.sent);
  });

  it("is deterministic per seed, and seeds vary the schedule", () => {
    const again = runBivalent(params, oracle, start, RUN_STEPS, new Prng(1));
    assert.deepEqual(again.schedule, r.schedule);
    const others = [2, 3, 4, 5].map((s) => runBivalent(params, oracle, start, RUN_STEPS, new Prng(s)));
    assert.ok(others.every((o) => o.allBivalent && o.schedule.length === RUN_STEPS));
    assert.ok(others.some((o) => JSON.stringify(o.schedule) !== JSON.stringify(r.schedule)));
  });
});

describe("flp: without the adversary the protocol decides", () => {
  it(`a fair random scheduler decides, in agreement, on both bits across ${RANDOM_SEEDS} seeds`, () => {
    const decided = new Set<Bit>();
    for (let seed = 1; seed <= RANDOM_SEEDS; seed++) {
      const prng = new Prng(seed);
      let c = initialConfiguration(start);
      while (c.procs.some((p) => p.decided === null)) {
        assert.ok(c.steps < RANDOM_STEPS_MAX, `seed ${seed}: no decision in ${RANDOM_STEPS_MAX} steps`);
        c = applyEvent(params, c, prng.pick(enabledEvents(c)));
      }
      const bits = new Set(c.procs.map((p) => p.decided));
      assert.equal(bits.size, 1, `seed ${seed}: disagreement`);
      decided.add(c.procs[0]?.decided as Bit);
    }
    assert.deepEqual([...decided].sort(), [0, 1]);
  });

  it("unanimous inputs decide that input (validity) under random schedules", () => {
    for (const bit of [0, 1] as const) {
      for (let seed = 1; seed <= 20; seed++) {
        const prng = new Prng(seed);
        let c = initialConfiguration([bit, bit, bit]);
        while (decisionOf(c) === null && c.steps < RANDOM_STEPS_MAX)
          c = applyEvent(params, c, prng.pick(enabledEvents(c)));
        assert.equal(decisionOf(c), bit);
      }
    }
  });

  it("a crashed process (one that never steps) does not block the other two", () => {
    for (let seed = 1; seed <= 20; seed++) {
      const prng = new Prng(seed);
      let c = initialConfiguration(start);
      for (;;) {
        const live = enabledEvents(c).filter((e) => e.to !== 2);
        if (c.procs[0]?.decided !== null && c.procs[1]?.decided !== null) break;
        assert.ok(live.length > 0 && c.steps < RANDOM_STEPS_MAX, `seed ${seed}: blocked`);
        c = applyEvent(params, c, prng.pick(live));
      }
      assert.equal(c.procs[0]?.decided, c.procs[1]?.decided);
    }
  });
});

describe("flp: the command", () => {
  it("--set steps=50 succeeds, with the baseline deciding on the simulator, and writes a trace", () => {
    const dir = mkdtempSync(join(tmpdir(), "flp-"));
    try {
      const file = join(dir, "flp.jsonl");
      const r = run({ settings: { steps: "50" }, trace: file });
      assert.equal(r.ok, true, r.lines.join("\n"));
      assert.equal(r.figures.steps, 50);
      assert.equal(r.figures.allBivalent, true);
      assert.equal(r.figures.decided, false);
      assert.equal(r.figures.inputs, "110");
      assert.equal(r.figures.baselineDecided, 3);
      assert.match(r.lines[0] ?? "", /bivalent for 50 steps; no process decided/);
      assert.ok(r.lines.some((l) => l.includes("messages")));
      const events = (r.traceJsonl ?? "")
        .trim()
        .split("\n")
        .slice(1)
        .map((l) => JSON.parse(l));
      assert.equal(events.filter((e) => e.kind === "recv").length, r.figures.messagesDelivered);
      assert.equal(events.filter((e) => e.kind === "send").length, r.figures.messagesSent);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses options it cannot run", () => {
    const refused: Array<Partial<AlgorithmOptions>> = [
      { nodes: 4 },
      { traitors: 0 },
      { settings: { steps: "0" } },
      { settings: { steps: "ten" } },
      { settings: { horizon: "100" } },
      { settings: { bogus: "1" } },
      { settings: { constructor: "1" } },
      { strategy: "random" },
      { strategy: "pbft", nodes: 3 },
      { strategy: "pbft", traitors: 1 },
      { strategy: "pbft", settings: { horizon: "10" } },
      { strategy: "pbft", settings: { steps: "5" } },
      { strategy: "pbft", settings: { horizon: "1000", until: "900" } },
    ];
    for (const o of refused)
      assert.throws(
        () => run(o),
        (e) => isPhalanxError(e, "BAD_ARGUMENT"),
        JSON.stringify(o),
      );
  });

  it("rejects malformed messages", () => {
    assert.equal(isFlpMsg({ type: "report", round: 1, value: 0 }), true);
    assert.equal(isFlpMsg({ type: "propose", round: 3, value: null }), true);
    for (const bad of [
      null,
      {},
      { type: "report", round: 1, value: null },
      { type: "propose", round: 0, value: 1 },
    ])
      assert.equal(isFlpMsg(bad), false);
  });
});

describe("flp --strategy pbft: stalled while the adversary acts, safe throughout, live after", () => {
  for (const replicas of [4, 7]) {
    it(`n = ${replicas}, seeds 1..4`, () => {
      for (let seed = 1; seed <= 4; seed++) {
        const o = { seed, replicas, horizonMs: 3_000, untilMs: 12_000, trace: false };
        const attacked = runPbftStall({ ...o, adversary: true });
        const plain = runPbftStall({ ...o, adversary: false });
        assert.deepEqual(attacked.violations, [], `seed ${seed}`);
        assert.deepEqual(plain.violations, [], `seed ${seed}`);
        assert.equal(
          attacked.completedBeforeHorizon,
          0,
          `seed ${seed}: a request completed under the adversary`,
        );
        assert.ok(attacked.viewsBeforeHorizon >= 2, `seed ${seed}: views did not change`);
        assert.ok(attacked.held > 0);
        assert.equal(attacked.completed, attacked.operations, `seed ${seed}: not every request completed`);
        assert.ok((attacked.firstCompletionAfterHorizonMs ?? Number.POSITIVE_INFINITY) < 3_000 + 1_000);
        assert.ok(plain.completedBeforeHorizon > 0, `seed ${seed}: the baseline made no progress`);
        assert.equal(plain.viewMax, 0);
      }
    });
  }

  it("the command succeeds, and fails when the run ends before requests can complete", () => {
    const r = run({ strategy: "pbft", seed: 2 });
    assert.equal(r.ok, true, r.lines.join("\n"));
    assert.equal(r.figures.completedBeforeHorizon, 0);
    assert.equal(r.figures.violations, 0);
    const cut = run({ strategy: "pbft", seed: 2, settings: { horizon: "3000", until: "3001" } });
    assert.equal(cut.ok, false);
    assert.match(cut.lines[0] ?? "", /FAILED/);
  });

  it("a longer horizon stalls longer: no request completes for 10 s, then all do", () => {
    const r = run({ strategy: "pbft", nodes: 5, seed: 3, settings: { horizon: "10000" } });
    assert.equal(r.ok, true, r.lines.join("\n"));
    assert.ok((r.figures.viewChangesBeforeHorizon as number) >= 10);
  });
});
