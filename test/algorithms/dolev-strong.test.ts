import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { type DsMsg, decide, dsRoundMs, extendChain } from "../../src/algorithms/dolev-strong/general.ts";
import {
  algorithm,
  behavioursOf,
  type DsBehaviour,
  type DsOutcome,
  type DsStrategy,
  dsStrategies,
  outcomeHolds,
  runDolevStrong,
} from "../../src/algorithms/dolev-strong.ts";
import { type Order, randomPlacement } from "../../src/algorithms/generals/common.ts";
import type { AlgorithmOptions, AlgorithmResult } from "../../src/algorithms/types.ts";
import { isPhalanxError } from "../../src/core/errors.ts";
import { type NodeId, nodeIds } from "../../src/core/ids.ts";
import { Prng } from "../../src/core/prng.ts";
import type { Adversary } from "../../src/sim/adversary/types.ts";

const N = (x: number) => x as NodeId;

function runAlgorithm(options: Partial<AlgorithmOptions>): AlgorithmResult {
  return algorithm.run({ seed: 1, settings: {}, ...options }) as AlgorithmResult;
}

function votesFor(n: number): Order[] {
  return nodeIds(n).map((id) => (id % 3 === 1 ? "retreat" : "attack"));
}

interface Case {
  n: number;
  f: number;
  traitors: readonly NodeId[];
  strategy: DsStrategy;
  early?: boolean;
  signatures?: "ed25519" | "fast";
}

function ds(c: Case): DsOutcome {
  return runDolevStrong({
    n: c.n,
    f: c.f,
    early: c.early ?? true,
    votes: votesFor(c.n),
    traitors: c.traitors,
    behaviours: behavioursOf(c.strategy, nodeIds(c.n), c.traitors),
    strategy: c.strategy,
    seed: 1,
    signatures: c.signatures ?? "fast",
  });
}

/** Agreement and validity straight from the decisions, not through checkDolevStrong. */
function assertAgreement(o: DsOutcome): void {
  const s = o.scenario;
  const what = JSON.stringify({ n: s.n, f: s.f, early: s.early, traitors: s.traitors, strategy: s.strategy });
  const loyal = nodeIds(s.n).filter((id) => !s.traitors.includes(id));
  const vectors = loyal.map((id) => o.decisions.get(id)?.vector);
  assert.ok(
    vectors.every((v) => v !== undefined),
    `a loyal general did not decide: ${what}`,
  );
  for (const v of vectors) assert.deepEqual(v, vectors[0], `agreement: ${what}`);
  for (const g of loyal) assert.equal(vectors[0]?.[g], s.votes[g], `validity: ${what}`);
  const orders = new Set(loyal.map((id) => o.decisions.get(id)?.order));
  assert.equal(orders.size, 1, what);
  assert.deepEqual(o.verdict.violations, [], what);
  assert.ok(o.loyalMessages <= (s.f + 1) * s.n * (s.n - 1), `messages: ${what}`);
  assert.ok(outcomeHolds(o), what);
}

/** A few placements of t traitors among n: the lowest ids, the highest, and two drawn from seeds. */
function somePlacements(n: number, t: number): NodeId[][] {
  const all = nodeIds(n);
  const out = [all.slice(0, t), all.slice(n - t), randomPlacement(7, all, t), randomPlacement(8, all, t)];
  return [...new Map(out.map((p) => [p.join(","), p])).values()];
}

const pairs = [
  [5, 3],
  [7, 4],
  [8, 6],
] as const;

describe("early stopping decides in min(t+2, f+1) rounds", () => {
  for (const [n, f] of pairs) {
    it(`n = ${n}, f = ${f}, crash (the k-th traitor falls silent to almost everyone in round k+1): exactly min(t+2, f+1) for every t = 0..${f}`, () => {
      for (let t = 0; t <= f; t++) {
        for (const traitors of somePlacements(n, t)) {
          const o = ds({ n, f, traitors, strategy: "crash" });
          assertAgreement(o);
          assert.equal(o.decidedBy, Math.min(t + 2, f + 1), `t = ${t}, traitors ${traitors}`);
          // Generals that decide early send one last envelope; none is sent after round f+1.
          assert.equal(o.lastSendRound, Math.min(o.decidedBy + 1, f + 1), `t = ${t}`);
          // Nothing is hidden: every vote, the traitors' included, counts.
          assert.deepEqual(o.decisions.get(firstLoyal(o))?.vector, votesFor(n));
        }
      }
    });

    it(`n = ${n}, f = ${f}, chain, silent, equivocate, forge: at most min(t+2, f+1), agreement and validity, every t`, () => {
      for (let t = 0; t <= f; t++) {
        for (const strategy of ["chain", "silent", "equivocate", "forge"] as const) {
          for (const traitors of somePlacements(n, t)) {
            const o = ds({ n, f, traitors, strategy });
            assertAgreement(o);
            assert.ok(o.decidedBy <= Math.min(t + 2, f + 1), `${strategy} t = ${t}: ${o.decidedBy}`);
            const vector = o.decisions.get(firstLoyal(o))?.vector ?? [];
            for (const id of traitors) {
              // The hidden vote of the chain's first traitor still reaches everyone; a silent
              // traitor's vote never exists; an equivocator's two votes cancel out.
              if (strategy === "chain" || strategy === "forge") assert.equal(vector[id], votesFor(n)[id]);
              else assert.equal(vector[id], null, `${strategy} traitor ${id}`);
            }
          }
        }
      }
    });
  }

  it("with real Ed25519: n = 7, f = 4, t = 2 crashing traitors decide in round 4", () => {
    const o = ds({ n: 7, f: 4, traitors: [N(2), N(5)], strategy: "crash", signatures: "ed25519" });
    assertAgreement(o);
    assert.equal(o.decidedBy, 4);
  });

  it("the chain schedule: the first traitor's vote, hidden by one crash per round, reaches every loyal general", () => {
    // t = 3 of n = 7, f = 5: 0 -> 1 (round 1) -> 2 (round 2) -> 3 (loyal, round 3); 3 relays it in round 4.
    const o = ds({ n: 7, f: 5, traitors: [N(0), N(1), N(2)], strategy: "chain" });
    assertAgreement(o);
    assert.equal(o.decisions.get(N(3))?.round, 3);
    for (const id of [4, 5, 6]) assert.equal(o.decisions.get(N(id))?.round, 4);
    for (const id of [3, 4, 5, 6]) assert.equal(o.decisions.get(N(id))?.vector[0], "attack");
  });

  it("any mix of crashes (at any round, to any subset), conflicting signed votes and forgeries keeps agreement within min(t+2, f+1)", () => {
    let exact = 0;
    for (let seed = 1; seed <= 400; seed++) {
      const p = new Prng(seed);
      const n = p.intBetween(3, 8);
      const f = p.intBetween(1, n - 1);
      const t = p.intBetween(0, f);
      const nodes = nodeIds(n);
      const traitors = p
        .shuffle([...nodes])
        .slice(0, t)
        .sort((a, b) => a - b);
      const behaviours = new Map<NodeId, DsBehaviour>();
      for (const id of traitors) {
        const subset = () => nodes.filter((x) => x !== id && p.chance(0.4));
        const kind = p.int(4);
        if (kind <= 1) behaviours.set(id, { kind: "crash", round: p.intBetween(1, f + 1), reach: subset() });
        else if (kind === 2) behaviours.set(id, { kind: "equivocate", attackTo: subset() });
        else behaviours.set(id, { kind: "forge" });
      }
      const votes = nodes.map((): Order => (p.chance(0.5) ? "attack" : "retreat"));
      const o = runDolevStrong({
        n,
        f,
        early: true,
        votes,
        traitors,
        behaviours,
        strategy: "mixed",
        seed,
        signatures: "fast",
      });
      assert.ok(
        outcomeHolds(o),
        `seed ${seed}: ${o.verdict.violations.join("; ")} (${o.decidedBy}/${o.roundsBound})`,
      );
      if (o.decidedBy === o.roundsBound) exact++;
    }
    assert.ok(exact > 100);
  });

  it("a traitor whose own second vote comes back to it does not stop early (found by search: it would vouch for a vote it cannot relay)", () => {
    // 0 signs retreat for 1 only, attack for the rest; 1 crashes in round 2 reaching 0 and 2;
    // 2 crashes in round 3 reaching 3. 0's core holds [0:retreat, 1] but cannot relay it; had it
    // told 4 "decided" in round 3, 4 would have decided without the retreat vote that 3 holds.
    const behaviours = new Map<NodeId, DsBehaviour>([
      [N(0), { kind: "equivocate", attackTo: [N(2), N(3), N(4)] }],
      [N(1), { kind: "crash", round: 2, reach: [N(0), N(2)] }],
      [N(2), { kind: "crash", round: 3, reach: [N(3)] }],
    ]);
    const o = runDolevStrong({
      n: 5,
      f: 4,
      early: true,
      votes: ["attack", "attack", "attack", "retreat", "retreat"],
      traitors: [N(0), N(1), N(2)],
      behaviours,
      strategy: "mixed",
      seed: 1,
      signatures: "fast",
    });
    assertAgreement(o);
    assert.equal(o.decisions.get(N(0))?.round, 5);
    assert.equal(o.decisions.get(N(3))?.vector[0], null);
  });

  it("a general that decided says so, so that its halting is not taken for a crash", () => {
    // 3 reaches only 0 in round 2, 4 only 0 in round 3: 0 is clean in round 2 and decides; 1 and
    // 2 see 3 fall silent in round 2 and 4 in round 3. 0's "decided" flag in round 3 lets them
    // decide then; otherwise 0's own silence in round 4 would cost them one more round, past
    // min(t+2, f+1) = 4.
    const behaviours = new Map<NodeId, DsBehaviour>([
      [N(3), { kind: "crash", round: 2, reach: [N(0)] }],
      [N(4), { kind: "crash", round: 3, reach: [N(0)] }],
    ]);
    const o = runDolevStrong({
      n: 5,
      f: 4,
      early: true,
      votes: votesFor(5),
      traitors: [N(3), N(4)],
      behaviours,
      strategy: "mixed",
      seed: 1,
      signatures: "fast",
    });
    assertAgreement(o);
    assert.equal(o.decisions.get(N(0))?.round, 2);
    assert.equal(o.decisions.get(N(1))?.round, 3);
    assert.equal(o.decisions.get(N(2))?.round, 3);
  });

  it("forgeries are rejected: each forging traitor's altered and invented chains, at every loyal general", () => {
    for (const [n, t] of [
      [5, 1],
      [7, 3],
    ] as const) {
      const traitors = nodeIds(n).slice(0, t);
      const o = ds({ n, f: n - 2, traitors, strategy: "forge", signatures: "ed25519" });
      assertAgreement(o);
      assert.equal(o.dropped["bad-signature"], 2 * t * (n - t));
      assert.equal(o.dropped["wrong-round"] + o.dropped["bad-chain"] + o.dropped.malformed, 0);
    }
  });
});

describe("plain Dolev-Strong (early=0)", () => {
  for (const [n, f] of pairs.slice(0, 2)) {
    it(`n = ${n}, f = ${f}: every strategy, hide included, every t: agreement and validity in exactly f+1 rounds`, () => {
      for (let t = 0; t <= f; t++) {
        for (const strategy of dsStrategies) {
          for (const traitors of somePlacements(n, t)) {
            const o = ds({ n, f, traitors, strategy, early: false });
            assertAgreement(o);
            assert.equal(o.decidedBy, f + 1);
          }
        }
      }
    });
  }

  it("hide: the vote revealed to one loyal general in round t (with t signatures) reaches all of them by t+1 <= f+1", () => {
    for (const t of [1, 2, 3, 4]) {
      const traitors = nodeIds(7).slice(7 - t);
      const o = ds({ n: 7, f: 4, traitors, strategy: "hide", early: false });
      assertAgreement(o);
      for (const id of [0, 1, 2]) assert.equal(o.decisions.get(N(id))?.vector[7 - t], votesFor(7)[7 - t]);
    }
  });

  it("a chain with fewer signatures than its round counts is refused: a vote shown to one general in the last round", () => {
    // Traitor 4 votes retreat, then at round f+1 shows general 0 alone an attack vote carrying
    // only its own signature. Accepted, it would give 0 a different count from everyone else.
    const f = 3;
    const late: Adversary<DsMsg> = {
      name: "late",
      onStart(api) {
        api.after(f * dsRoundMs + 1, () => {
          const vote = extendChain({ value: "attack", signers: [], sigs: [] }, api.self, (d) => api.sign(d));
          api.send(N(0), { type: "ds", round: f + 1, chains: [vote], decided: false });
        });
      },
      onSend: (api, to, msg) => api.send(to, msg),
    };
    const sim = runDolevStrong({
      n: 5,
      f,
      early: false,
      votes: votesFor(5),
      traitors: [N(4)],
      behaviours: new Map(),
      strategy: "late",
      seed: 1,
      signatures: "fast",
      adversaries: new Map([[N(4), late]]),
    });
    assertAgreement(sim);
    assert.equal(sim.dropped["wrong-round"], 1);
    assert.equal(sim.decisions.get(N(0))?.vector[4], "retreat");
  });

  it("a chain padded with one traitor's own signatures is refused: f+1 signers must be f+1 generals", () => {
    // Traitor 4 signs an attack vote 4 times over and shows it to general 0 alone in round f+1.
    const f = 3;
    const padded: Adversary<DsMsg> = {
      name: "padded",
      onStart(api) {
        api.after(f * dsRoundMs + 1, () => {
          let chain = extendChain({ value: "attack", signers: [], sigs: [] }, api.self, (d) => api.sign(d));
          for (let k = 1; k <= f; k++) chain = extendChain(chain, api.self, (d) => api.sign(d));
          api.send(N(0), { type: "ds", round: f + 1, chains: [chain], decided: false });
        });
      },
      onSend: (api, to, msg) => api.send(to, msg),
    };
    const o = runDolevStrong({
      n: 5,
      f,
      early: false,
      votes: votesFor(5),
      traitors: [N(4)],
      behaviours: new Map(),
      strategy: "padded",
      seed: 1,
      signatures: "fast",
      adversaries: new Map([[N(4), padded]]),
    });
    assertAgreement(o);
    assert.equal(o.dropped["bad-chain"], 1);
  });

  it("message count: with no traitors, votes in round 1 and their relays in round 2 only", () => {
    const o = ds({ n: 6, f: 4, traitors: [], strategy: "crash", early: false });
    assertAgreement(o);
    assert.equal(o.loyalMessages, 2 * 6 * 5);
    assert.equal(o.lastSendRound, 2);
    assert.equal(o.decidedBy, 5);
  });
});

describe("the limit of early stopping", () => {
  it("a traitor that keeps talking while it hides a signed vote breaks early stopping (outside its model)", () => {
    // Traitors 5 and 6: 5 gives its vote to 6 only; 6 shows it in round 2 to 0 only, while both
    // send everyone else envelopes. Every loyal general sees a clean round 2; 0 counts 5's vote
    // and the others do not. Plain Dolev-Strong (previous suite) holds against the same traitors.
    const o = ds({ n: 7, f: 4, traitors: [N(5), N(6)], strategy: "hide" });
    assert.equal(o.verdict.agreement, false);
    assert.equal(outcomeHolds(o), false);
    assert.equal(o.decisions.get(N(0))?.vector[5], votesFor(7)[5]);
    for (const id of [1, 2, 3, 4]) assert.equal(o.decisions.get(N(id))?.vector[5], null);
    assert.equal(o.verdict.validity, true);
  });
});

describe("the command", () => {
  it("the documented example: 7 generals, 2 crashing traitors, f = 4: decided by round 4 = min(t+2, f+1)", () => {
    const r = runAlgorithm({ nodes: 7, traitors: 2, settings: { f: "4" } });
    assert.equal(r.ok, true);
    assert.match(
      r.lines[0] ?? "",
      /^dolev-strong: 7 generals, f = 4, .*decided by round 4 \(bound min\(t\+2, f\+1\) = min\(4, 5\) = 4\)$/,
    );
    assert.equal(r.figures.decidedBy, 4);
    assert.equal(r.figures.signatures, "ed25519");
    const messages = r.lines.find((l) => l.includes("messages")) ?? "";
    assert.match(messages, /bound \(f\+1\)·n² = 5·7² = 245/);
    assert.ok((r.figures.loyalMessages as number) <= 245);
  });

  it("defaults: f = n-2, early stopping, crash", () => {
    const r = runAlgorithm({});
    assert.equal(r.ok, true);
    assert.equal(r.figures.f, 5);
    assert.equal(r.figures.early, true);
    assert.equal(r.figures.strategy, "crash");
    assert.equal(r.figures.decidedBy, 4);
  });

  it("hide with early stopping reports the violation (exit 1); with early=0 it holds", () => {
    const broken = runAlgorithm({ strategy: "hide" });
    assert.equal(broken.ok, false);
    assert.match(broken.lines[0] ?? "", /VIOLATION agreement/);
    assert.ok(broken.lines.some((l) => l.includes("outside the early-stopping model")));
    assert.equal(runAlgorithm({ strategy: "hide", settings: { early: "0" } }).ok, true);
  });

  it("refuses options it cannot run", () => {
    const refused = (options: Partial<AlgorithmOptions>, pattern: RegExp) =>
      assert.throws(
        () => runAlgorithm(options),
        (e: unknown) => isPhalanxError(e, "BAD_ARGUMENT") && pattern.test(e.message),
      );
    refused({ nodes: 5, traitors: 3, settings: { f: "2" } }, /f must be in 3\.\.4/);
    refused({ nodes: 5, traitors: 5 }, /at least one general loyal/);
    refused({ nodes: 65 }, /--nodes/);
    refused({ settings: { early: "yes" } }, /early must be 1 or 0/);
    refused({ nodes: 3, settings: { votes: "aax" } }, /votes must be 3 letters/);
    refused({ nodes: 5, traitors: 2, settings: { traitors: "1" } }, /list exactly 2/);
    refused({ nodes: 5, settings: { traitors: "1,9" } }, /generals 0\.\.4/);
    refused({ settings: { m: "1" } }, /unknown setting/);
    refused({ strategy: "lie" }, /--strategy/);
  });

  it("explicit placement and votes; the same seed gives the same report", () => {
    const options = { nodes: 5, settings: { traitors: "1,3", votes: "rrara", f: "3", signatures: "fast" } };
    const a = runAlgorithm(options);
    assert.equal(a.ok, true);
    assert.equal(a.figures.traitors, 2);
    assert.equal(a.figures.placement, "1, 3");
    assert.equal(a.figures.decidedBy, 4);
    assert.deepEqual(runAlgorithm(options), a);
  });

  it("--trace writes the run's causal trace", () => {
    const dir = mkdtempSync(join(tmpdir(), "ds-trace-"));
    try {
      const file = join(dir, "ds.jsonl");
      const r = runAlgorithm({ nodes: 4, traitors: 1, trace: file });
      const lines = (r.traceJsonl ?? "").trim().split("\n");
      assert.equal(JSON.parse(lines[0] ?? "{}").protocol, "dolev-strong");
      assert.ok(lines.length > 10);
      assert.ok(r.lines.some((l) => l.includes(file)));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("the decision is the majority of counted votes, a tie attacking (seed 002)", () => {
    assert.equal(decide(["attack", "retreat", null]), "attack");
    assert.equal(decide(["retreat", "retreat", "attack"]), "retreat");
    assert.equal(decide([null, null]), "attack");
  });
});

function firstLoyal(o: DsOutcome): NodeId {
  return nodeIds(o.scenario.n).find((id) => !o.scenario.traitors.includes(id)) as NodeId;
}
