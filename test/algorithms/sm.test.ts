import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { type Order, omMessageTerms, orders, placements } from "../../src/algorithms/generals/common.ts";
import {
  algorithm,
  chainVerifies,
  choice,
  extendChain,
  linkBytes,
  runSm,
  type SmMsg,
  type SmOutcome,
  type SmScenario,
  smLoyalMessagesMax,
  smRoundMs,
  smStrategies,
} from "../../src/algorithms/generals/sm.ts";
import type { AlgorithmOptions, AlgorithmResult } from "../../src/algorithms/types.ts";
import { isPhalanxError } from "../../src/core/errors.ts";
import { type NodeId, nodeIds } from "../../src/core/ids.ts";
import { Prng } from "../../src/core/prng.ts";
import { keyPairFromPrng, sign, verify } from "../../src/crypto/sign.ts";
import type { Adversary } from "../../src/sim/adversary/types.ts";

const N = (x: number) => x as NodeId;

function runAlgorithm(options: Partial<AlgorithmOptions>): AlgorithmResult {
  return algorithm.run({ seed: 1, settings: {}, ...options }) as AlgorithmResult;
}

function sm(s: Partial<SmScenario> & Pick<SmScenario, "n" | "m" | "traitors">): SmOutcome {
  return runSm({ commander: N(0), order: "attack", strategy: "split", seed: 1, signatures: "fast", ...s });
}

/** IC1 and IC2 straight from the decisions, not through checkGenerals. */
function assertIc(o: SmOutcome): void {
  const s = o.scenario;
  const what = JSON.stringify(s);
  const loyal = nodeIds(s.n).filter((id) => id !== s.commander && !s.traitors.includes(id));
  const decided = loyal.map((id) => o.decisions.get(id)?.value);
  assert.ok(
    decided.every((d) => d !== undefined && d === decided[0]),
    `IC1 broken: ${what} ${decided}`,
  );
  if (!s.traitors.includes(s.commander)) {
    assert.ok(
      decided.every((d) => d === s.order),
      `IC2 broken: ${what} ${decided}`,
    );
    // A loyal commander's order is the only one any loyal lieutenant can hold.
    for (const id of loyal) assert.deepEqual(o.decisions.get(id)?.values, [s.order], what);
  }
  assert.deepEqual(o.verdict.violations, [], what);
  assert.ok(o.loyalMessages <= smLoyalMessagesMax(s.n, s.m), `message bound: ${what}`);
}

describe("SM(m) keeps IC1 and IC2 with up to m traitors, for any n", () => {
  for (const [n, m] of [
    [3, 1],
    [4, 2],
    [5, 3],
    [6, 4],
  ] as const) {
    it(`n = ${n}, m = ${m} (m >= n/3): every placement of 0..${m} traitors, two commanders, every strategy, both orders`, () => {
      let runs = 0;
      for (const commander of [N(0), N(n - 1)]) {
        for (let size = 0; size <= m; size++) {
          for (const traitors of placements(nodeIds(n), size)) {
            for (const strategy of smStrategies) {
              for (const order of orders) {
                assertIc(sm({ n, m, commander, order, traitors, strategy }));
                runs++;
              }
            }
          }
        }
      }
      let placementCount = 0;
      for (let size = 0, c = 1; size <= m; size++, c = (c * (n - size + 1)) / size) placementCount += c;
      assert.equal(runs, 2 * placementCount * smStrategies.length * 2);
    });
  }

  it("with real Ed25519 signatures: n = 5, m = 3, a traitor commander and two traitor lieutenants", () => {
    for (const strategy of smStrategies) {
      assertIc(sm({ n: 5, m: 3, traitors: [N(0), N(2), N(3)], strategy, signatures: "ed25519" }));
    }
  });

  it("selective traitors surface the opposite order in the last round that allows it, and every loyal lieutenant still gets it", () => {
    // Commander 0 and lieutenants 1, 2, 3 are traitors: retreat travels 0 -> 1 -> 2 -> 3 -> 4 (loyal),
    // arriving in round 4 = m with 4 signatures; 4 relays it in round 4 and 5 gets it in round 5.
    const o = sm({ n: 6, m: 4, traitors: [N(0), N(1), N(2), N(3)], strategy: "selective" });
    assertIc(o);
    for (const id of [N(4), N(5)]) {
      assert.deepEqual(o.decisions.get(id)?.values, ["attack", "retreat"]);
      assert.equal(o.decisions.get(id)?.value, "retreat");
    }
  });
});

describe("signatures", () => {
  const keys = [1, 2, 3].map((i) => keyPairFromPrng(new Prng(i)));
  const signAs = (i: number) => (data: Uint8Array) => sign((keys[i] as (typeof keys)[0]).privateKey, data);
  const verifyBy = (signer: NodeId, data: Uint8Array, sig: Uint8Array) =>
    verify((keys[signer] as (typeof keys)[0]).publicKey, data, sig);
  const order = extendChain({ value: "attack", signers: [], sigs: [] }, 0, signAs(0));
  const relayed = extendChain(order, 1, signAs(1));

  it("a chain verifies link by link, and any alteration or invented signature fails", () => {
    assert.equal(chainVerifies(order, verifyBy), true);
    assert.equal(chainVerifies(relayed, verifyBy), true);
    const altered: SmMsg = { ...relayed, value: "retreat" };
    assert.equal(chainVerifies(altered, verifyBy), false);
    const invented: SmMsg = extendChain(
      { value: "retreat", signers: [0], sigs: [signAs(2)(new Uint8Array([1, 2, 3]))] },
      1,
      signAs(1),
    );
    assert.equal(chainVerifies(invented, verifyBy), false);
    const reordered: SmMsg = { ...relayed, signers: [1, 0] };
    assert.equal(chainVerifies(reordered, verifyBy), false);
    const truncated: SmMsg = { ...relayed, signers: [0, 2], sigs: relayed.sigs };
    assert.equal(chainVerifies(truncated, verifyBy), false);
  });

  it("choice(V): the single order, else retreat", () => {
    assert.equal(choice(new Set<Order>()), "retreat");
    assert.equal(choice(new Set<Order>(["attack"])), "attack");
    assert.equal(choice(new Set<Order>(["retreat"])), "retreat");
    assert.equal(choice(new Set<Order>(["attack", "retreat"])), "retreat");
  });

  it("a forging lieutenant's chains are all rejected: 2 per loyal lieutenant it relays to", () => {
    // n = 4, m = 1, loyal commander 0, traitor 1: it relays to 2 and 3 an altered chain and one
    // with an invented commander signature; neither verifies (real Ed25519).
    const o = sm({ n: 4, m: 1, traitors: [N(1)], strategy: "forge", signatures: "ed25519" });
    assertIc(o);
    assert.equal(o.dropped["bad-signature"], 4);
    assert.equal(o.dropped.late + o.dropped["bad-chain"] + o.dropped.malformed, 0);
  });

  it("forging traitors are rejected and agreement holds, with a loyal or a traitor commander", () => {
    for (const traitors of [
      [N(1), N(2), N(4)],
      [N(0), N(3)],
      [N(0), N(1), N(2)],
    ]) {
      const o = sm({ n: 5, m: 3, traitors, strategy: "forge", signatures: "ed25519" });
      assertIc(o);
      assert.ok(o.dropped["bad-signature"] > 0, JSON.stringify(traitors));
    }
  });
});

describe("the bound t <= m matters", () => {
  it("SM(1) with 2 traitors: the opposite order reaches one loyal lieutenant too late to be relayed, breaking IC1", () => {
    const o = sm({ n: 4, m: 1, traitors: [N(0), N(1)], strategy: "selective" });
    assert.equal(o.verdict.ic1, false);
    assert.equal(o.decisions.get(N(2))?.value, "retreat");
    assert.equal(o.decisions.get(N(3))?.value, "attack");
    // The same traitors against SM(2) fail.
    assertIc(sm({ n: 4, m: 2, traitors: [N(0), N(1)], strategy: "selective" }));
  });
});

describe("rounds make absence detectable", () => {
  it("an order that arrives after its round (fewer signatures than the round) is refused", () => {
    // Traitor commander 0 orders attack in round 0, then at round m+1 shows lieutenant 1 alone a
    // retreat order with only its own signature. Accepted, it would leave 1 alone with two orders.
    const m = 2;
    const o = runSm({
      n: 5,
      m,
      commander: N(0),
      order: "attack",
      traitors: [N(0)],
      strategy: "split",
      seed: 1,
      signatures: "fast",
      adversaries: new Map([
        [
          N(0),
          {
            name: "late",
            onStart(api) {
              api.after(m * smRoundMs + 1, () => {
                const sig = api.sign(linkBytes("retreat", [0], []));
                api.send(N(1), { type: "sm", value: "retreat", signers: [0], sigs: [sig] });
              });
            },
            onSend: (api, to, msg) => api.send(to, msg),
          } satisfies Adversary<SmMsg>,
        ],
      ]),
    });
    assertIc(o);
    assert.equal(o.dropped.late, 1);
    assert.deepEqual(o.decisions.get(N(1))?.values, ["attack"]);
  });
});

describe("messages", () => {
  it("a loyal commander and faithful lieutenants send (n-1) + (n-1)(n-2), fewer than OM(m) for m >= 2", () => {
    for (const [n, m] of [
      [4, 2],
      [7, 2],
      [7, 5],
      [10, 3],
    ] as const) {
      const o = sm({ n, m, traitors: [] });
      assertIc(o);
      assert.equal(o.messages, (n - 1) * (n - 1));
      const oral = omMessageTerms(n, m).reduce((a, b) => a + b, 0);
      assert.ok(o.messages < oral, `${n} ${m}`);
    }
    assert.deepEqual(omMessageTerms(10, 3), [9, 72, 504, 3024]);
  });

  it("a splitting commander makes each loyal lieutenant relay both orders, within (n-1) + 2(n-1)(n-2)", () => {
    // n = 6, m = 2: each of the 5 loyal lieutenants relays the order it got in round 1 to the 4
    // others, and the other order (arriving in round 2 with 2 signatures) to the 3 lieutenants
    // not on its chain.
    const o = sm({ n: 6, m: 2, traitors: [N(0)], strategy: "split" });
    assertIc(o);
    for (const id of [1, 2, 3, 4, 5]) assert.deepEqual(o.decisions.get(N(id))?.values, ["attack", "retreat"]);
    assert.equal(o.loyalMessages, 5 * 4 + 5 * 3);
    assert.equal(o.messages, 5 + 5 * 4 + 5 * 3);
    assert.ok(o.loyalMessages <= smLoyalMessagesMax(6, 2));
  });

  it("the command prints messages next to OM(m)'s count for the same n and m", () => {
    const r = runAlgorithm({ nodes: 7, traitors: 2, strategy: "split", settings: { traitors: "0,3" } });
    const line = r.lines.find((l) => l.includes("messages")) ?? "";
    assert.match(line, /messages: \d+ sent in 3 rounds/);
    assert.match(line, /OM\(2\) with n = 7 sends 6 \+ 30 \+ 120 = 156/);
    assert.equal(r.figures.oralMessages, 156);
    assert.ok((r.figures.messages as number) < 156);
  });
});

describe("the command", () => {
  it("default run: SM(1) with 4 generals, ok, summary first, real signatures", () => {
    const r = runAlgorithm({});
    assert.equal(r.ok, true);
    assert.match(r.lines[0] ?? "", /^sm: SM\(1\) with 4 generals, .*: IC1 and IC2 hold$/);
    assert.equal(r.figures.signatures, "ed25519");
    assert.equal(r.figures.ic1, true);
  });

  it("n = 3, m = 1 works with signatures where OM cannot", () => {
    const r = runAlgorithm({ nodes: 3, traitors: 1, strategy: "split", settings: { traitors: "0" } });
    assert.equal(r.ok, true);
    assert.ok(r.lines.some((l) => l.includes("n = 3 <= 3m = 3")));
    assert.equal(r.figures.decision, "retreat");
  });

  it("--set m runs SM(m) with fewer traitors than m", () => {
    const r = runAlgorithm({
      nodes: 5,
      traitors: 1,
      settings: { m: "3", traitors: "2", signatures: "fast" },
    });
    assert.equal(r.ok, true);
    assert.equal(r.figures.m, 3);
    assert.equal(r.figures.rounds, 4);
  });

  it("refuses options it cannot run", () => {
    const refused = (options: Partial<AlgorithmOptions>, pattern: RegExp) =>
      assert.throws(
        () => runAlgorithm(options),
        (e: unknown) => isPhalanxError(e, "BAD_ARGUMENT") && pattern.test(e.message),
      );
    refused({ nodes: 4, traitors: 3 }, /at most n-2 = 2/);
    refused({ nodes: 5, traitors: 2, settings: { m: "1" } }, /at most m = 1 traitors/);
    refused({ nodes: 1 }, /--nodes/);
    refused({ strategy: "lie" }, /--strategy/);
    refused({ settings: { signatures: "rsa" } }, /signatures/);
    refused({ settings: { colour: "red" } }, /unknown setting/);
    refused({ settings: { m: "x" } }, /m must be an integer/);
  });

  it("the same options and seed give the same report; another seed may place traitors elsewhere", () => {
    const a = runAlgorithm({ nodes: 6, traitors: 2, seed: 5 });
    const b = runAlgorithm({ nodes: 6, traitors: 2, seed: 5 });
    assert.deepEqual(a, b);
    const placementsSeen = new Set(
      [1, 2, 3, 4, 5, 6].map((seed) => runAlgorithm({ nodes: 6, traitors: 2, seed }).figures.placement),
    );
    assert.ok(placementsSeen.size > 1);
  });

  it("--trace writes the run's causal trace", () => {
    const dir = mkdtempSync(join(tmpdir(), "sm-trace-"));
    try {
      const file = join(dir, "sm.jsonl");
      const r = runAlgorithm({ trace: file });
      const lines = (r.traceJsonl ?? "").trim().split("\n");
      assert.equal(JSON.parse(lines[0] ?? "{}").protocol, "sm");
      assert.ok(lines.length > 10);
      assert.ok(r.lines.some((l) => l.includes(file)));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
