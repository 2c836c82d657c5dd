import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import { forged, registerStrategies } from "../../src/algorithms/quorum/adversary.ts";
import { checkRegular, type RegisterOp } from "../../src/algorithms/quorum/check.ts";
import { decideRead, nextCounter, type ReadReply } from "../../src/algorithms/quorum/register.ts";
import {
  examine,
  grid,
  majority,
  maskingThreshold,
  type QuorumSystem,
} from "../../src/algorithms/quorum/systems.ts";
import { algorithm } from "../../src/algorithms/quorum.ts";
import type { AlgorithmOptions, AlgorithmResult } from "../../src/algorithms/types.ts";
import { isPhalanxError } from "../../src/core/errors.ts";
import { Prng } from "../../src/core/prng.ts";

/** Quorums as plain server lists, and the smallest intersection by plain set operations. */
function quorumLists(system: QuorumSystem): number[][] {
  const out: number[][] = [];
  for (const mask of system.quorums()) {
    const members: number[] = [];
    for (let s = 0; s < system.n; s++) if (mask & (1 << s)) members.push(s);
    out.push(members);
  }
  return out;
}

function bruteIntersectionMin(qs: number[][]): number {
  if (qs.length === 1) return (qs[0] as number[]).length;
  let min = Number.POSITIVE_INFINITY;
  for (let i = 0; i < qs.length; i++) {
    const a = new Set(qs[i]);
    for (let j = i + 1; j < qs.length; j++) {
      min = Math.min(min, (qs[j] as number[]).filter((s) => a.has(s)).length);
    }
  }
  return min;
}

/** Every system the exhaustive tests cover: thresholds up to 13 servers, grids up to 5x5. */
function smallSystems(): QuorumSystem[] {
  const out: QuorumSystem[] = [];
  for (let n = 1; n <= 13; n++) {
    for (let f = 0; 4 * f + 1 <= n; f++) out.push(maskingThreshold(n, f));
    for (let f = 0; f <= Math.min(2, n - 1); f++) out.push(majority(n, f));
  }
  for (let side = 1; side <= 5; side++) {
    for (let f = 0; 2 * f + 1 <= side; f++) out.push(grid(side * side, f));
  }
  return out;
}

async function runQuorum(options: Partial<AlgorithmOptions> & { seed: number }): Promise<AlgorithmResult> {
  return algorithm.run({ settings: {}, ...options });
}

describe("quorum systems, checked on every pair of quorums", () => {
  const systems = smallSystems();

  it("the enumeration matches each formula: size, count, smallest intersection, load", () => {
    for (const s of systems) {
      const e = examine(s);
      assert.ok(e !== null, `${s.label} n=${s.n} is small enough to enumerate`);
      const qs = quorumLists(s);
      assert.equal(e.quorums, s.count, `${s.label} n=${s.n}: count`);
      assert.equal(new Set(qs.map((q) => q.join(","))).size, qs.length, `${s.label}: quorums are distinct`);
      assert.ok(
        qs.every((q) => q.length === s.size),
        `${s.label} n=${s.n}: every quorum has size ${s.size}`,
      );
      assert.equal(bruteIntersectionMin(qs), s.intersectionMin, `${s.label} n=${s.n}: smallest intersection`);
      assert.equal(e.intersectionMin, s.intersectionMin, `${s.label} n=${s.n}: examine agrees`);
      assert.ok(Math.abs(e.loadUniform - s.load) < 1e-12, `${s.label} n=${s.n}: uniform load = size/n`);
    }
  });

  it("masking systems: any two quorums share >= 2f+1 servers and some quorum avoids any f servers", () => {
    let pairs = 0;
    for (const s of systems.filter((x) => x.kind !== "majority")) {
      const e = examine(s);
      assert.ok(e !== null);
      assert.ok(s.masking, `${s.label} n=${s.n} claims to mask`);
      assert.ok(e.intersectionMin >= 2 * s.f + 1, `${s.label} n=${s.n}: ${e.intersectionMin} < 2f+1`);
      assert.equal(e.available, true, `${s.label} n=${s.n}: f faulty servers block every quorum`);
      pairs += e.pairs;
    }
    assert.ok(pairs > 1_000_000, `only ${pairs} pairs compared`);
  });

  it("threshold masking quorums have size ceil((n+2f+1)/2) and share exactly 2q-n servers at worst", () => {
    for (const s of systems.filter((x) => x.kind === "threshold")) {
      assert.equal(s.size, Math.ceil((s.n + 2 * s.f + 1) / 2));
      assert.equal(s.intersectionMin, Math.max(0, 2 * s.size - s.n));
    }
  });

  it("the plain grid is a row plus a column: 2*side-1 servers, any two share >= min(2, side), load (2 side - 1)/n", () => {
    for (let side = 1; side <= 5; side++) {
      const g = grid(side * side, 0);
      const e = examine(g);
      assert.ok(e !== null);
      assert.equal(g.size, 2 * side - 1);
      assert.equal(e.intersectionMin, Math.min(2, side));
      assert.equal(g.load, (2 * side - 1) / (side * side));
      // Two rows alone would be disjoint: the seed's "any row is a quorum" is not a quorum system.
      if (side >= 2) assert.ok(quorumLists(g).every((q) => q.length > side));
    }
  });

  it("load: the uniform strategy meets the Naor–Wool lower bound c/n exactly (the systems are fair)", () => {
    for (const s of systems) {
      const e = examine(s);
      assert.ok(e !== null);
      assert.ok(e.loadUniform >= e.loadLowerBound - 1e-12);
      assert.ok(Math.abs(e.loadUniform - s.size / s.n) < 1e-12);
      if (s.size * s.size >= s.n) assert.ok(Math.abs(e.loadUniform - e.loadLowerBound) < 1e-12);
    }
    // For large n the grid's load falls like 1/√n while any masking threshold stays above 1/2.
    assert.ok(grid(10_000, 0).load < 0.02 && grid(10_000, 2).load < 0.04);
    assert.ok(maskingThreshold(10_000, 2).load > 0.5);
  });

  it("majorities are not masking: two majorities of 9 can share one server, fewer than 2f+1 = 5", () => {
    const m = majority(9, 2);
    const e = examine(m);
    assert.ok(e !== null);
    assert.equal(e.intersectionMin, 1);
    assert.equal(m.masking, false);
  });

  it("pick draws a quorum of the system, which includesQuorum recognises; its frequencies give the load", () => {
    const all = [maskingThreshold(9, 2), grid(16, 1), grid(25, 0), majority(7, 1)];
    fc.assert(
      fc.property(fc.integer({ min: 0, max: all.length - 1 }), fc.integer(), (which, seed) => {
        const s = all[which] as QuorumSystem;
        const prng = new Prng(seed);
        const q = s.pick(() => prng.float());
        const mask = q.reduce((m, x) => m | (1 << x), 0) >>> 0;
        const members = new Set(q);
        return [...s.quorums()].includes(mask) && s.includesQuorum((x) => members.has(x));
      }),
    );
    for (const s of all) {
      const prng = new Prng(7);
      const hits = new Array<number>(s.n).fill(0);
      const draws = 20_000;
      for (let i = 0; i < draws; i++)
        for (const x of s.pick(() => prng.float())) hits[x] = (hits[x] as number) + 1;
      const busiest = Math.max(...hits) / draws;
      assert.ok(Math.abs(busiest - s.load) < 0.02, `${s.label}: busiest ${busiest} vs load ${s.load}`);
    }
  });
});

describe("the read and timestamp rules", () => {
  const f = 2;
  const real = (counter: number, value: string, writer = 10): ReadReply => ({ counter, writer, value });
  const lie: ReadReply = { counter: forged.counter, writer: 10, value: forged.value };

  it("a forged value vouched for by the f liars alone is masked; f+1 vouchers would carry it", () => {
    const honest = [real(3, "a"), real(3, "a"), real(3, "a"), real(2, "b"), real(3, "a")];
    const d = decideRead([...honest, lie, lie], f);
    assert.equal(d.kind, "value");
    assert.equal(d.kind === "value" && d.value, "a");
    const tooMany = decideRead([...honest.slice(0, 4), lie, lie, lie], f);
    assert.equal(tooMany.kind === "value" && tooMany.value, forged.value);
  });

  it("f+1 replies newer than the best vouched value make the read undecided instead of stale", () => {
    const replies = [
      real(5, "new", 11),
      real(6, "newer", 12),
      real(6, "newer2", 13),
      real(4, "old"),
      real(4, "old"),
    ];
    const d = decideRead([...replies, real(4, "old")], f);
    assert.equal(d.kind, "undecided");
  });

  it("property: whatever f liars say, a read returns a pair some correct server holds, never older than the last completed write", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 3 }),
        fc.integer({ min: 1, max: 20 }),
        fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 0, maxLength: 8 }),
        fc.array(
          fc.record({
            counter: fc.integer({ min: 0, max: 2 ** 41 }),
            writer: fc.integer({ min: 0, max: 3 }),
            v: fc.integer({ min: 0, max: 3 }),
          }),
          { minLength: 0, maxLength: 3 },
        ),
        (fl, latest, others, liars) => {
          // f+1 correct replies hold the last completed write or a newer one (the quorum intersection).
          const pair = (c: number): ReadReply => ({ counter: c, writer: 1, value: `v${c}` });
          const honest = [
            ...Array.from({ length: fl + 1 }, (_, i) => pair(latest + ((others[i] ?? 0) % 2))),
            ...others.map((d) => pair(Math.max(0, latest - 2 + d))),
          ];
          const lies = liars
            .slice(0, fl)
            .map((l) => ({ counter: l.counter, writer: l.writer, value: `v${l.v}` }));
          const d = decideRead([...honest, ...lies], fl);
          if (d.kind === "undecided") return true;
          const held = honest.some(
            (h) => h.counter === d.stamp.counter && h.value === d.value && h.writer === d.stamp.writer,
          );
          return held && d.stamp.counter >= latest;
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("property: with no write in progress the last write is read, whatever the liars say", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 3 }),
        fc.integer({ min: 0, max: 4 }),
        fc.array(fc.record({ counter: fc.nat(), writer: fc.nat(5), value: fc.string() }), { maxLength: 3 }),
        (fl, stale, liars) => {
          const last: ReadReply = { counter: 9, writer: 1, value: "last" };
          const honest = [
            ...Array.from({ length: fl + 1 }, () => last),
            ...Array.from({ length: stale }, () => real(3, "old")),
          ];
          const d = decideRead([...honest, ...liars.slice(0, fl)], fl);
          return d.kind === "value" && d.value === "last";
        },
      ),
    );
  });

  it("the next write counter ignores f inflated counters and never goes below a correct one", () => {
    assert.equal(nextCounter([forged.counter, forged.counter, 7, 7, 7, 3, 0], 2), 8);
    assert.equal(nextCounter([7, 7, 7, 3, 0, 0, 0], 2), 8);
    assert.equal(nextCounter([0, 0, 0], 0), 1);
  });
});

describe("the regularity checker", () => {
  const w = (client: number, value: string, invokeMs: number, returnMs?: number): RegisterOp => ({
    client,
    op: invokeMs,
    action: "write",
    value,
    invokeMs,
    ...(returnMs === undefined ? {} : { returnMs }),
  });
  const r = (client: number, value: string | null, invokeMs: number, returnMs: number): RegisterOp => ({
    client,
    op: invokeMs,
    action: "read",
    value,
    invokeMs,
    returnMs,
  });

  it("accepts reads of the latest completed write or of a concurrent one", () => {
    const h = [
      r(1, null, 0, 1),
      w(2, "a", 2, 4),
      r(1, "a", 5, 6),
      w(2, "b", 7, 10),
      r(1, "a", 8, 9),
      r(3, "b", 8, 9),
    ];
    assert.deepEqual(checkRegular(h), []);
  });

  it("flags stale, unwritten, future and unfinished operations", () => {
    const kinds = (h: RegisterOp[]) => checkRegular(h).map((v) => v.kind);
    assert.deepEqual(kinds([w(2, "a", 0, 1), w(2, "b", 2, 3), r(1, "a", 4, 5)]), ["stale"]);
    assert.deepEqual(kinds([w(2, "a", 0, 1), r(1, null, 2, 3)]), ["stale"]);
    assert.deepEqual(kinds([r(1, "forged", 0, 1)]), ["unwritten"]);
    assert.deepEqual(kinds([r(1, "a", 0, 1), w(2, "a", 2, 3)]), ["future"]);
    assert.deepEqual(kinds([w(2, "a", 0)]), ["incomplete"]);
  });
});

describe("the register on the simulator", () => {
  it("masking quorums keep the history regular under f liars of every strategy (320 runs)", async () => {
    const configs = [
      { nodes: 5, traitors: 1, system: "threshold" },
      { nodes: 9, traitors: 2, system: "threshold" },
      { nodes: 9, traitors: 1, system: "grid" },
      { nodes: 25, traitors: 2, system: "grid" },
    ];
    let retries = 0;
    let outvoted = 0;
    for (const c of configs) {
      for (const strategy of registerStrategies) {
        for (let seed = 1; seed <= 20; seed++) {
          const res = await runQuorum({
            seed,
            nodes: c.nodes,
            traitors: c.traitors,
            strategy,
            settings: { system: c.system },
          });
          assert.ok(res.ok, `${JSON.stringify(c)} ${strategy} seed ${seed}:\n${res.lines.join("\n")}`);
          assert.equal(res.figures.violations, 0);
          assert.equal(res.figures.operations, 30);
          assert.ok((res.figures.counterMax as number) <= 30, "a liar's huge counter leaked into a write");
          retries += res.figures.retries as number;
          outvoted += res.figures.outvoted as number;
        }
      }
    }
    assert.ok(retries > 0, "no read was ever undecided: the retry path went untested");
    assert.ok(outvoted > 1000, "liars were rarely outvoted: the masking path went untested");
  });

  it("under heavy concurrency (6 clients x 20 operations, stale liars) reads retry instead of going stale (200 seeds)", async () => {
    let retries = 0;
    for (let seed = 1; seed <= 200; seed++) {
      const res = await runQuorum({
        seed,
        nodes: 5,
        traitors: 1,
        strategy: "stale",
        settings: { clients: "6", ops: "20" },
      });
      assert.ok(res.ok, `seed ${seed}:\n${res.lines.join("\n")}`);
      retries += res.figures.retries as number;
    }
    assert.ok(
      retries > 100,
      `only ${retries} undecided reads: too little concurrency to test the refusal rule`,
    );
  });

  it("negative control: majorities with 2 forging liars among 9 servers end with a stale read on some seed", async () => {
    const failing: number[] = [];
    for (let seed = 1; seed <= 30; seed++) {
      const res = await runQuorum({
        seed,
        nodes: 9,
        traitors: 2,
        strategy: "forge",
        settings: { system: "majority" },
      });
      if (res.lines.some((l) => l.startsWith("violation (stale)"))) failing.push(seed);
      const masked = await runQuorum({ seed, nodes: 9, traitors: 2, strategy: "forge" });
      assert.ok(masked.ok, `masking quorums failed on seed ${seed}`);
    }
    assert.ok(failing.length > 0, "the oracle never caught a wrong read with quorums too small for f");
    const res = await runQuorum({
      seed: failing[0] as number,
      nodes: 9,
      traitors: 2,
      strategy: "forge",
      settings: { system: "majority" },
    });
    assert.equal(res.ok, false);
  });

  it("reports sizes, load and messages, and is deterministic, trace included", async () => {
    const dir = mkdtempSync(join(tmpdir(), "phalanx-quorum-"));
    try {
      const a = await runQuorum({
        seed: 4,
        nodes: 9,
        traitors: 2,
        strategy: "mixed",
        trace: join(dir, "a.jsonl"),
      });
      const b = await runQuorum({
        seed: 4,
        nodes: 9,
        traitors: 2,
        strategy: "mixed",
        trace: join(dir, "b.jsonl"),
      });
      assert.deepEqual(a.figures, b.figures);
      assert.deepEqual(a.lines.slice(0, -1), b.lines.slice(0, -1));
      assert.ok(a.traceJsonl !== undefined && a.traceJsonl.length > 0);
      assert.equal(a.traceJsonl, b.traceJsonl);
      assert.match(
        a.lines[1] ?? "",
        /36 quorums of 7\/9 servers, any two share >= 5 .*checked all 630 pairs.*load 7\/9 = 0\.778/,
      );
      assert.match(
        a.lines[2] ?? "",
        /grid 3x3 \(row \+ column\): 9 quorums of 5\/9 servers.*load 5\/9 = 0\.556/,
      );
      assert.ok(a.lines.some((l) => /^messages: \d+/.test(l)));
      const c = await runQuorum({ seed: 5, nodes: 9, traitors: 2, strategy: "mixed" });
      assert.notDeepEqual(a.figures, c.figures);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("rejects options it cannot run with BAD_ARGUMENT", async () => {
    const bad: Array<Partial<AlgorithmOptions>> = [
      { nodes: 8, traitors: 2 },
      { nodes: 10, traitors: 1, settings: { system: "grid" } },
      { nodes: 9, traitors: 2, settings: { system: "grid" } },
      { nodes: 4, traitors: 2, settings: { system: "majority" } },
      { strategy: "bribe" },
      { settings: { system: "paths" } },
      { settings: { ops: "0" } },
      { settings: { colour: "blue" } },
      { nodes: 0 },
      { traitors: -1 },
    ];
    for (const o of bad) {
      await assert.rejects(
        async () => runQuorum({ seed: 1, ...o }),
        (e: unknown) => isPhalanxError(e, "BAD_ARGUMENT"),
        JSON.stringify(o),
      );
    }
  });
});
