/**
 * Bracha's reliable broadcast (src/algorithms/bracha.ts): seed sweeps of every Byzantine strategy
 * at n = 3f+1 (and at sizes where the quorums are not tight), the n = 3f counterexamples the tool
 * must find, each oracle on made-up outputs, the core's handling of made-up input, and options.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import {
  algorithm,
  type BrachaMsg,
  BrachaNode,
  brachaLimits,
  checkBroadcast,
  type PlannedInstance,
  quorumsFor,
} from "../../src/algorithms/bracha.ts";
import type { AlgorithmOptions, AlgorithmResult } from "../../src/algorithms/types.ts";
import { isPhalanxError } from "../../src/core/errors.ts";
import type { NodeId } from "../../src/core/ids.ts";
import type { Adversary } from "../../src/sim/adversary/types.ts";
import { Simulation } from "../../src/sim/simulation.ts";

const N = (x: number) => x as NodeId;

function run(options: Partial<AlgorithmOptions>): AlgorithmResult {
  return algorithm.run({ seed: 1, settings: {}, ...options }) as AlgorithmResult;
}

/** Seeds each sweep covers, per (n, strategy, broadcasts). */
const SWEEP_SEEDS = 500;

describe("bracha: n >= 3f+1 with f Byzantine nodes", () => {
  for (const n of [4, 7, 10]) {
    const f = (n - 1) / 3;
    for (const strategy of algorithm.strategies) {
      it(`n=${n} f=${f} ${strategy}: every oracle holds on seeds 1..${SWEEP_SEEDS}, 1 and 3 broadcasts`, () => {
        for (const broadcasts of ["1", "3"]) {
          const r = run({
            nodes: n,
            traitors: f,
            strategy,
            settings: { search: String(SWEEP_SEEDS), broadcasts },
          });
          assert.equal(r.ok, true, r.lines.join("\n"));
          assert.equal(r.figures.withinModel, true);
          assert.equal(r.figures.seedsTried, SWEEP_SEEDS);
          assert.equal(r.figures.violations, 0);
        }
      });
    }
  }

  it("n = 5, 6, 8, 9 (quorums not tight): every oracle holds for every strategy on 200 seeds", () => {
    // At n = 3f+1, ceil((n+f)/2) equals ceil((n+f+1)/2); here an ECHO quorum one too small shows.
    for (const n of [5, 6, 8, 9]) {
      for (const strategy of algorithm.strategies) {
        const r = run({ nodes: n, traitors: Math.floor((n - 1) / 3), strategy, settings: { search: "200" } });
        assert.equal(r.ok, true, r.lines.join("\n"));
      }
    }
  });

  it("a correct sender's value reaches every correct node despite fake ECHOs and READYs", () => {
    for (const strategy of ["fake-echo", "fake-ready", "silent"]) {
      for (let seed = 1; seed <= 30; seed++) {
        const r = run({ nodes: 7, traitors: 2, strategy, seed });
        assert.equal(r.figures.deliveries, 5, `${strategy} seed ${seed}`);
        assert.match(
          r.lines.join("\n"),
          /instance 0\/1 \(correct sender, value "v0\.1"\): "v0\.1" delivered by nodes/,
        );
      }
    }
  });

  it("an equivocating sender cannot split the correct nodes: all of them deliver one value", () => {
    let delivered = 0;
    for (let seed = 1; seed <= 50; seed++) {
      const r = run({ nodes: 10, traitors: 3, strategy: "equivocating-sender", seed });
      assert.equal(r.ok, true);
      const instance = r.lines.find((l) => l.startsWith("  instance 0/1")) as string;
      assert.equal([...instance.matchAll(/delivered by/g)].length <= 1, true, instance);
      if (r.figures.deliveries === 7) delivered++;
      else assert.equal(r.figures.deliveries, 0);
    }
    assert.ok(delivered > 0, "some equivocation should still end in a delivery");
  });

  it("a partial sender ends all-or-nothing, and both outcomes occur", () => {
    const outcomes = new Set<number>();
    for (let seed = 1; seed <= 100; seed++) {
      const r = run({ nodes: 7, traitors: 2, strategy: "partial-sender", seed });
      assert.equal(r.ok, true);
      outcomes.add(r.figures.deliveries as number);
    }
    assert.deepEqual([...outcomes].sort(), [0, 5]);
  });

  it("a silent sender's broadcast is delivered by nobody", () => {
    const r = run({ nodes: 7, traitors: 2, strategy: "silent-sender", settings: { search: "20" } });
    assert.equal(r.ok, true);
    assert.equal(r.figures.deliveries, 0);
    assert.match(r.lines.join("\n"), /no correct node delivered/);
  });

  it("several instances (sender, seq) run side by side: 12 broadcasts by 4 senders all delivered", () => {
    const r = run({ nodes: 4, traitors: 0, settings: { broadcasts: "12" } });
    assert.equal(r.ok, true);
    assert.equal(r.figures.deliveries, 12 * 4);
    for (const id of ["0/1", "3/1", "0/2", "3/2"])
      assert.ok(
        r.lines.some((l) => l.startsWith(`  instance ${id} `)),
        id,
      );
    assert.ok(r.lines.some((l) => l.includes("... and 4 more instances")));
  });
});

describe("bracha: message counts", () => {
  for (const n of [4, 7, 10]) {
    it(`n=${n} without traitors: between (n-1)(n+1) and (n-1)(2n+1) messages per broadcast, reported with n^2`, () => {
      // Every node READYs to all and the sender SENDs to all; an ECHO is skipped only by a node
      // that delivered (on READYs) before the SEND reached it, and has forgotten the instance.
      const most = (n - 1) * (2 * n + 1);
      const least = (n - 1) * (n + 1);
      for (let seed = 1; seed <= 20; seed++) {
        const r = run({ nodes: n, traitors: 0, seed, settings: { broadcasts: "2" } });
        const per = r.figures.messagesPerBroadcast as number;
        assert.ok(per >= least && per <= most, `seed ${seed}: ${per}`);
        assert.equal(r.figures.messages, r.figures.messagesCorrect);
        assert.equal(r.figures.nSquared, n * n);
        const line = r.lines.find((l) => l.includes("messages")) as string;
        assert.ok(
          line.includes(
            `${per} per broadcast, n^2 = ${n * n}; correct nodes send at most (n-1)(2n+1) = ${most}`,
          ),
          line,
        );
      }
    });
  }

  it("correct nodes never exceed the bound, whatever the traitors do", () => {
    for (const strategy of algorithm.strategies) {
      const r = run({ nodes: 10, traitors: 3, strategy, settings: { search: "20", broadcasts: "4" } });
      assert.ok((r.figures.messagesCorrect as number) <= 4 * 9 * 21, strategy);
    }
  });
});

describe("bracha: outside the model (n = 3f) the tool finds a run that breaks it", () => {
  for (const [n, f] of [
    [6, 2],
    [9, 3],
  ] as const) {
    it(`n=${n} f=${f}, equivocating sender and Byzantine relays, quorums for f: totality breaks`, () => {
      const r = run({ nodes: n, traitors: f, strategy: "equivocating-sender" });
      assert.equal(r.figures.withinModel, false);
      assert.equal(r.ok, true, r.lines.join("\n"));
      assert.equal(r.figures.firstViolation, "totality");
      assert.match(r.lines[0] as string, /outside the model: seed \d+ breaks totality/);
      assert.ok(r.lines.some((l) => l.startsWith("violation (totality)")));
      assert.ok(
        r.lines.some((l) => l.startsWith("why: ") && l.includes(`DELIVER quorum of 2f+1 = ${2 * f + 1}`)),
      );
      // The reported seed replays alone.
      const again = run({
        nodes: n,
        traitors: f,
        strategy: "equivocating-sender",
        seed: r.figures.reportedSeed as number,
        settings: { search: "1" },
      });
      assert.equal(again.figures.firstViolation, "totality");
      assert.deepEqual(again.lines.slice(1), r.lines.slice(1));
    });
  }

  it("the search matters: from seed 2, n=6 needs more than one seed (some placements only stall)", () => {
    const r = run({ nodes: 6, traitors: 2, seed: 2 });
    assert.equal(r.ok, true);
    assert.ok((r.figures.seedsTried as number) > 1);
    const stalled = run({ nodes: 6, traitors: 2, seed: 2, settings: { search: "1" } });
    assert.equal(stalled.ok, false, "one seed that only stalls is no counterexample");
    assert.equal(stalled.figures.deliveries, 0);
  });

  it("n=6 f=2 with quorums sized for what n supports (f=1): agreement breaks", () => {
    const r = run({ nodes: 6, traitors: 2, strategy: "equivocating-sender", settings: { quorumF: "1" } });
    assert.equal(r.ok, true);
    assert.equal(r.figures.firstViolation, "agreement");
    const v = r.lines.find((l) => l.startsWith("violation (agreement)")) as string;
    assert.match(v, /"v0\.1" by nodes? [\d, ]+; "forged:v0\.1" by nodes? [\d, ]+$/);
  });

  it("n=6 f=2 with silent relays: a correct sender's broadcast is never delivered (validity)", () => {
    const r = run({ nodes: 6, traitors: 2, strategy: "silent" });
    assert.equal(r.ok, true);
    assert.equal(r.figures.firstViolation, "validity");
  });

  it("quorums sized for more faults than there are stay inside the model when the arithmetic holds", () => {
    const r = run({ nodes: 6, traitors: 1, settings: { quorumF: "2", search: "100" } });
    assert.equal(r.figures.withinModel, true);
    assert.equal(r.ok, true, r.lines.join("\n"));
  });

  it("quorums one fault short (f=0 for 1 traitor at n=4) let a lone traitor split the nodes", () => {
    const r = run({ nodes: 4, traitors: 1, settings: { quorumF: "0" } });
    assert.equal(r.ok, true);
    assert.equal(r.figures.firstViolation, "agreement");
  });
});

describe("bracha: oracles", () => {
  const nodes = [0, 1, 2, 3].map(N);
  const planned: PlannedInstance[] = [{ sender: N(0), seq: 1, value: "a" }];
  const bcast = { node: N(0), record: { kind: "broadcast", sender: 0, seq: 1, value: "a" } };
  const deliver = (node: number, value: string, sender = 0) => ({
    node: N(node),
    record: { kind: "deliver", sender, seq: 1, value },
  });
  const oracles = (outputs: Array<{ node: NodeId; record: unknown }>, byz: number[] = [], sent = 0) =>
    checkBroadcast(outputs, nodes, new Set(byz.map(N)), planned, sent).map((v) => v.oracle);

  it("all correct nodes deliver the sender's value: no violation", () => {
    assert.deepEqual(oracles([bcast, ...[0, 1, 2, 3].map((x) => deliver(x, "a"))]), []);
  });
  it("validity: a correct node misses a correct sender's value", () => {
    assert.deepEqual(oracles([bcast, ...[1, 2, 3].map((x) => deliver(x, "a"))], [0]), []);
    assert.ok(oracles([bcast, ...[0, 1, 2].map((x) => deliver(x, "a"))]).includes("validity"));
  });
  it("agreement: two correct nodes deliver different values", () => {
    const got = oracles([bcast, deliver(1, "b"), deliver(2, "c"), deliver(3, "b")], [0]);
    assert.deepEqual(got, ["agreement"]);
  });
  it("integrity: twice, or a value the correct sender never broadcast", () => {
    const all = [0, 1, 2, 3].map((x) => deliver(x, "a"));
    assert.deepEqual(oracles([bcast, ...all, deliver(2, "a")]), ["integrity"]);
    assert.ok(oracles([bcast, ...[0, 1, 2, 3].map((x) => deliver(x, "z"))]).includes("integrity"));
  });
  it("totality: some correct nodes deliver, others never do", () => {
    assert.deepEqual(oracles([bcast, deliver(1, "a"), deliver(2, "a")], [0]), ["totality"]);
  });
  it("messages: correct nodes above (n-1)(2n+1) per broadcast", () => {
    const ok = [bcast, ...[0, 1, 2, 3].map((x) => deliver(x, "a"))];
    assert.deepEqual(oracles(ok, [], 27), []);
    assert.deepEqual(oracles(ok, [], 28), ["messages"]);
  });
});

describe("bracha: the core drops what a Byzantine peer makes up", () => {
  it("malformed, misattributed, conflicting and out-of-window messages are counted and dropped", () => {
    const n = 4;
    const junk: unknown[] = [
      null,
      "ready",
      { type: "bogus", sender: 0, seq: 1, value: "x" },
      { type: "echo", sender: 99, seq: 1, value: "x" },
      { type: "echo", sender: 0, seq: 0, value: "x" },
      { type: "echo", sender: 0, seq: 1.5, value: "x" },
      { type: "ready", sender: 0, seq: 1, value: "x".repeat(brachaLimits.valueCharsMax + 1) },
    ];
    const extra = 10;
    const flood: Adversary<BrachaMsg> = {
      name: "flood",
      onStart(api) {
        for (const to of api.nodes) {
          if (to === api.self) continue;
          for (const m of junk) api.send(to, m as BrachaMsg);
          // SEND in node 0's name, then an ECHO and a READY for a value node 0 never sent.
          api.send(to, { type: "send", sender: 0, seq: 1, value: "fake" });
          api.send(to, { type: "echo", sender: 0, seq: 1, value: "fake" });
          api.send(to, { type: "ready", sender: 0, seq: 1, value: "fake" });
          // Made-up instances of its own and of node 0, past the window.
          for (let s = 1; s <= brachaLimits.seqWindow + extra; s++) {
            api.send(to, { type: "ready", sender: 3, seq: s, value: "spam" });
            api.send(to, { type: "echo", sender: 0, seq: s + 1, value: "spam" });
          }
        }
      },
      // Its own core's honest messages follow the made-up ones (a second ECHO: a conflict).
      onSend: (api, to, msg) => api.send(to, msg),
    };
    const nodes: BrachaNode[] = [];
    const sim = new Simulation<BrachaMsg, never>({
      seed: 7,
      nodes: n,
      factory: (id) => {
        const node = new BrachaNode(quorumsFor(n, 1), id === 0 ? [{ seq: 1, value: "real" }] : []);
        nodes[id] = node;
        return node;
      },
    });
    sim.setAdversary(3, flood);
    sim.runUntilQuiescent();
    for (const x of [1, 2]) {
      const c = sim.nodeCounters(x);
      assert.equal(c.get("bracha.malformed"), junk.length, `node ${x}`);
      assert.equal(c.get("bracha.send-not-from-sender"), 1);
      assert.ok((c.get("bracha.conflicting") ?? 0) >= 1);
      assert.ok((c.get("bracha.beyond-window") ?? 0) >= extra);
      assert.ok((nodes[x] as BrachaNode).instanceCount() <= n * brachaLimits.seqWindow);
    }
    const delivered = sim.outputs
      .filter((o) => (o.record as { kind: string }).kind === "deliver" && o.node !== 3)
      .map((o) => [o.node, (o.record as { value: string }).value]);
    assert.deepEqual(
      delivered.sort((a, b) => (a[0] as number) - (b[0] as number)),
      [
        [0, "real"],
        [1, "real"],
        [2, "real"],
      ],
    );
  });
});

describe("bracha: a sender that SENDs two values to every node", () => {
  it("each correct node ECHOes only the first, sends one ECHO and one READY per peer, and all agree", () => {
    const n = 4;
    const both: Adversary<BrachaMsg> = {
      name: "double-send",
      onSend(api, to, msg) {
        api.send(to, msg);
        if (msg.type === "send") api.send(to, { ...msg, value: "other" }, 5);
      },
    };
    for (let seed = 1; seed <= 30; seed++) {
      const sim = new Simulation<BrachaMsg, never>({
        seed,
        nodes: n,
        factory: (id) => new BrachaNode(quorumsFor(n, 1), id === 0 ? [{ seq: 1, value: "v" }] : []),
      });
      sim.setAdversary(0, both);
      sim.runUntilQuiescent();
      for (const x of [1, 2, 3]) {
        const c = sim.nodeCounters(x);
        assert.ok((c.get("bracha.sent") ?? 0) <= 2 * (n - 1), `seed ${seed} node ${x}`);
      }
      assert.ok(sim.counter("bracha.conflicting") + sim.counter("bracha.late") >= 3, `seed ${seed}`);
      const planned = [{ sender: N(0), seq: 1, value: "v" }];
      assert.deepEqual(checkBroadcast(sim.outputs, sim.nodes, sim.byzantine, planned, 0), []);
    }
  });
});

describe("bracha: options, determinism, trace", () => {
  const bad: Array<[string, Partial<AlgorithmOptions>]> = [
    ["zero nodes", { nodes: 0 }],
    ["too many nodes", { nodes: brachaLimits.nodesMax + 1 }],
    ["no correct node", { nodes: 4, traitors: 4 }],
    ["negative traitors", { nodes: 4, traitors: -1 }],
    ["fractional seed", { seed: 1.5 }],
    ["unknown strategy", { strategy: "lying" }],
    ["unknown setting", { settings: { rounds: "3" } }],
    ["bad broadcasts", { settings: { broadcasts: "0" } }],
    ["broadcasts too many", { settings: { broadcasts: String(brachaLimits.broadcastsMax + 1) } }],
    ["bad quorumF", { settings: { quorumF: "x" } }],
    ["bad search", { settings: { search: String(brachaLimits.searchSeedsMax + 1) } }],
  ];
  for (const [what, options] of bad) {
    it(`rejects ${what} with BAD_ARGUMENT`, () => {
      assert.throws(
        () => run(options),
        (e) => isPhalanxError(e, "BAD_ARGUMENT"),
      );
    });
  }

  it("the same options give the same report", () => {
    const options = {
      nodes: 7,
      traitors: 2,
      strategy: "fake-ready",
      seed: 11,
      settings: { broadcasts: "3" },
    };
    assert.deepEqual(run(options), run(options));
  });

  it("different seeds place the traitors differently", () => {
    const placements = new Set<unknown>();
    for (let seed = 1; seed <= 10; seed++)
      placements.add(run({ nodes: 10, traitors: 3, strategy: "fake-echo", seed }).figures.byzantineNodes);
    assert.ok(placements.size > 1);
  });

  it("--trace writes the reported run's causal trace", () => {
    const dir = mkdtempSync(join(tmpdir(), "bracha-"));
    try {
      const file = join(dir, "run.jsonl");
      const r = run({ nodes: 6, traitors: 2, trace: file });
      const lines = (r.traceJsonl ?? "").trim().split("\n");
      const header = JSON.parse(lines[0] as string);
      assert.equal(header.protocol, "bracha");
      assert.equal(header.seed, r.figures.reportedSeed);
      assert.deepEqual(header.byzantine.join(","), r.figures.byzantineNodes);
      assert.ok(lines.some((l) => l.includes('"label":"ready"')));
      assert.ok((r.lines.at(-1) as string).startsWith(`trace: ${lines.length - 1} events of seed`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
