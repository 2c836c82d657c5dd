import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import { faultTolerantSet } from "../../src/algorithms/clock-sync/berkeley.ts";
import {
  boundSlackMs,
  type ClockSyncConfig,
  clockSyncDefaults,
  roundSpanMs,
  runClockSync,
} from "../../src/algorithms/clock-sync/experiment.ts";
import { algorithm } from "../../src/algorithms/clock-sync.ts";
import type { AlgorithmOptions, AlgorithmResult } from "../../src/algorithms/types.ts";
import { isPhalanxError } from "../../src/core/errors.ts";
import type { NodeId } from "../../src/core/ids.ts";
import { parseJsonl } from "../../src/sim/trace.ts";

const N = (x: number) => x as NodeId;
const SEEDS = Array.from({ length: 100 }, (_, i) => i + 1);

function config(strategy: ClockSyncConfig["strategy"], over: Partial<ClockSyncConfig> = {}): ClockSyncConfig {
  return { ...clockSyncDefaults, strategy, seed: 1, ...over };
}

function runAlgorithm(options: Partial<AlgorithmOptions>): AlgorithmResult {
  return algorithm.run({ seed: 1, settings: {}, ...options }) as AlgorithmResult;
}

/** Cristian's bound recomputed here, independently of the module. */
const cristianBound = (rttMs: number, rho: number, minMs: number) =>
  ((rttMs / 2) * (1 + rho)) / (1 - rho) - minMs;

/** Integer arbitraries (they shrink fast) scaled to fractions: k / scale for k in [min, max]. */
const scaled = (min: number, max: number, scale: number) => fc.integer({ min, max }).map((k) => k / scale);

/** A Cristian setup: clocks (node 0 true), a delay range, and per-direction delays inside it. */
const cristianSetup = (zeroDrift: boolean) =>
  fc
    .record({
      nodes: fc.integer({ min: 2, max: 6 }),
      driftPpm: zeroDrift ? fc.constant(0) : fc.integer({ min: 0, max: 100_000 }),
      minDelayMs: scaled(0, 50_000, 1000),
      spreadMs: scaled(0, 100_000, 1000),
      samples: fc.integer({ min: 1, max: 4 }),
      rounds: fc.integer({ min: 1, max: 4 }),
      periodFactor: scaled(100, 300, 100),
      seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
      /** Per node: offset, drift as a fraction of the bound, and two sub-ranges of [m, M] as fractions. */
      perNode: fc.array(
        fc.tuple(
          scaled(-100_000_000, 100_000_000, 1000),
          scaled(-1000, 1000, 1000),
          fc.tuple(scaled(0, 1000, 1000), scaled(0, 1000, 1000)),
          fc.tuple(scaled(0, 1000, 1000), scaled(0, 1000, 1000)),
        ),
        { minLength: 6, maxLength: 6 },
      ),
    })
    .map((g): ClockSyncConfig => {
      const m = g.minDelayMs;
      const M = m + g.spreadMs;
      const at = (fraction: number) => Math.min(M, m + fraction * (M - m));
      const within = ([a, b]: [number, number]) => ({ minMs: at(Math.min(a, b)), maxMs: at(Math.max(a, b)) });
      const clients = g.perNode.slice(1, g.nodes);
      return config("cristian", {
        nodes: g.nodes,
        seed: g.seed,
        driftPpm: g.driftPpm,
        minDelayMs: m,
        maxDelayMs: M,
        samples: g.samples,
        rounds: g.rounds,
        periodMs: Math.max(1, 2 * roundSpanMs("cristian", M, g.samples)) * g.periodFactor,
        clocks: [
          { offsetMs: 0, driftPpm: 0 },
          ...clients.map(([offsetMs, drift]) => ({ offsetMs, driftPpm: drift * g.driftPpm })),
        ],
        links: clients.flatMap(([, , up, down], i) => [
          { from: i + 1, to: 0, ...within(up) },
          { from: 0, to: i + 1, ...within(down) },
        ]),
      });
    });

describe("clock-sync cristian: the error bound of every reading", () => {
  it("always holds: |true error| <= (rtt/2)(1+ρ)/(1-ρ) - min over random clocks, delays and seeds", () => {
    fc.assert(
      fc.property(cristianSetup(false), (c) => {
        const r = runClockSync(c);
        const rho = c.driftPpm / 1e6;
        assert.ok(
          r.readings.length >= (c.nodes - 1) * c.samples,
          "every client read the server at least once",
        );
        for (const x of r.readings) {
          assert.ok(Math.abs(x.boundMs - cristianBound(x.rttMs, rho, c.minDelayMs)) <= 1e-9 * (1 + x.rttMs));
          assert.ok(
            Math.abs(x.errorMs) <= x.boundMs + boundSlackMs,
            `node ${x.node}: error ${x.errorMs} beyond bound ${x.boundMs} (rtt ${x.rttMs})`,
          );
        }
        assert.ok(r.ok, r.violations.join("; "));
      }),
      { numRuns: 1000 },
    );
  });

  it("is exactly ±(rtt/2 - min) when clocks do not drift", () => {
    fc.assert(
      fc.property(cristianSetup(true), (c) => {
        const r = runClockSync(c);
        for (const x of r.readings) {
          assert.equal(x.boundMs, x.rttMs / 2 - c.minDelayMs);
          assert.ok(Math.abs(x.errorMs) <= x.boundMs + boundSlackMs, `error ${x.errorMs}, rtt ${x.rttMs}`);
        }
      }),
      { numRuns: 300 },
    );
  });

  it("needs its drift term: a slow client with a fast uplink and a slow downlink is off by more than rtt/2 - min", () => {
    const r = runClockSync(
      config("cristian", {
        nodes: 2,
        driftPpm: 1000,
        minDelayMs: 1,
        maxDelayMs: 50,
        samples: 1,
        periodMs: 200,
        rounds: 3,
        clocks: [
          { offsetMs: 0, driftPpm: 0 },
          { offsetMs: 40, driftPpm: -1000 },
        ],
        links: [
          { from: 1, to: 0, minMs: 1, maxMs: 1 },
          { from: 0, to: 1, minMs: 50, maxMs: 50 },
        ],
      }),
    );
    assert.ok(r.readings.length >= 3);
    for (const x of r.readings) {
      assert.ok(Math.abs(x.errorMs) > x.rttMs / 2 - 1 + 0.01, `error ${x.errorMs} vs rtt ${x.rttMs}`);
      assert.ok(Math.abs(x.errorMs) <= x.boundMs + boundSlackMs);
    }
    assert.ok(r.ok, r.violations.join("; "));
  });

  it("a round keeps its shortest round trip: more tries, tighter claims and more accurate clocks", () => {
    /** Mean bound of the reading each full round kept (a client's readings come round by round). */
    const keptBound = (samples: number) => {
      const r = runClockSync(config("cristian", { samples, seed: 3 }));
      assert.ok(r.ok, r.violations.join("; "));
      const kept: number[] = [];
      for (let node = 1; node < clockSyncDefaults.nodes; node++) {
        const mine = r.readings.filter((x) => x.node === node);
        for (let i = 0; i + samples <= mine.length; i += samples) {
          const round = mine.slice(i, i + samples);
          const best = round.reduce((a, b) => (b.rttMs < a.rttMs ? b : a));
          kept.push(best.boundMs);
        }
      }
      return { r, mean: kept.reduce((a, b) => a + b, 0) / kept.length };
    };
    const one = keptBound(1);
    const eight = keptBound(8);
    assert.ok(eight.mean < one.mean / 2, `kept bounds ${eight.mean} vs ${one.mean}`);
    assert.ok(eight.r.accuracyMs < one.r.accuracyMs, `${eight.r.accuracyMs} vs ${one.r.accuracyMs}`);
  });
});

describe("clock-sync: precision and accuracy against no synchronization and the stated bounds", () => {
  for (const strategy of ["cristian", "master", "berkeley"] as const) {
    it(`${strategy}: within the bounds and far better than clocks left alone, seeds 1..${SEEDS.length}`, () => {
      for (const seed of SEEDS) {
        const r = runClockSync(config(strategy, { seed }));
        assert.ok(r.ok, `seed ${seed}: ${r.violations.join("; ")}`);
        assert.ok(r.precisionMs <= r.precisionBoundMs + boundSlackMs);
        assert.ok(r.precisionMs * 5 < r.unsyncedPrecisionMs, `seed ${seed}: precision ${r.precisionMs}`);
        if (strategy === "berkeley") {
          assert.equal(r.accuracyBoundMs, null, "internal synchronization claims no accuracy");
        } else {
          assert.ok(r.accuracyMs <= (r.accuracyBoundMs as number) + boundSlackMs);
          assert.ok(r.accuracyMs * 5 < r.unsyncedAccuracyMs, `seed ${seed}: accuracy ${r.accuracyMs}`);
        }
      }
    });
  }

  it("master: the bound is nearly reached (it is not vacuous), assuming the least or the middle delay", () => {
    for (const assume of ["min", "mid"] as const) {
      let worst = 0;
      for (const seed of SEEDS) {
        const r = runClockSync(config("master", { seed, assume }));
        assert.ok(r.ok, r.violations.join("; "));
        worst = Math.max(worst, r.accuracyMs / (r.accuracyBoundMs as number));
      }
      assert.ok(worst > 0.8 && worst <= 1, `${assume}: worst accuracy ${worst} of the bound`);
    }
  });

  it("drift between rounds counts: with 5000 ppm and a long period precision grows, still within the bound", () => {
    const slow = runClockSync(config("master", { driftPpm: 5000, periodMs: 5000 }));
    const fast = runClockSync(config("master", { driftPpm: 5000, periodMs: 200 }));
    assert.ok(slow.ok && fast.ok, [...slow.violations, ...fast.violations].join("; "));
    assert.ok(slow.precisionMs > 3 * fast.precisionMs, `${slow.precisionMs} vs ${fast.precisionMs}`);
    assert.ok(slow.precisionMs > 9, "more than the delay range alone explains");
  });

  for (const strategy of ["master", "berkeley"] as const) {
    it(`${strategy}: the bounds hold over random delays, drifts, periods and clocks`, () => {
      fc.assert(
        fc.property(
          fc.record({
            nodes: fc.integer({ min: 2, max: 8 }),
            driftPpm: fc.integer({ min: 0, max: 100_000 }),
            minDelayMs: scaled(0, 30_000, 1000),
            spreadMs: scaled(0, 60_000, 1000),
            periodFactor: scaled(100, 2000, 100),
            offsetMaxMs: scaled(0, 10_000_000, 1000),
            assume: fc.constantFrom("min" as const, "mid" as const),
            rounds: fc.integer({ min: 1, max: 6 }),
            seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
          }),
          (g) => {
            const maxDelayMs = g.minDelayMs + g.spreadMs;
            const r = runClockSync(
              config(strategy, {
                ...g,
                maxDelayMs,
                periodMs: Math.max(1, 2 * roundSpanMs(strategy, maxDelayMs, 1)) * g.periodFactor,
              }),
            );
            assert.ok(r.ok, r.violations.join("; "));
          },
        ),
        { numRuns: 400 },
      );
    });
  }
});

describe("clock-sync berkeley: a faulty clock", () => {
  it("the fault-tolerant average takes the largest set within the threshold, the narrowest on ties", () => {
    const e = (node: number, offsetMs: number) => ({ node: N(node), offsetMs });
    const nodesOf = (xs: ReturnType<typeof faultTolerantSet>) => xs.map((x) => x.node);
    assert.deepEqual(nodesOf(faultTolerantSet([e(0, 0), e(1, 2), e(2, 500), e(3, -3)], 10)), [3, 0, 1]);
    assert.deepEqual(nodesOf(faultTolerantSet([e(0, 0), e(1, 2), e(2, 500)], null)), [0, 1, 2]);
    assert.deepEqual(nodesOf(faultTolerantSet([e(0, 0), e(1, 9), e(2, 10), e(3, 11)], 5)), [1, 2, 3]);
    assert.deepEqual(nodesOf(faultTolerantSet([e(0, 0), e(1, 4), e(2, 20), e(3, 22)], 5)), [2, 3]);
  });

  it("is ignored with outlier rejection on, and drags every clock with it when off", () => {
    for (const seed of SEEDS.slice(0, 8)) {
      const on = runClockSync(config("berkeley", { seed, faulty: 1 }));
      const off = runClockSync(config("berkeley", { seed, faulty: 1, outlierMs: null }));
      assert.ok(on.ok, on.violations.join("; "));
      assert.equal(on.faultyAveraged, 0, "the faulty clock never enters an average after the first");
      assert.equal(on.correctIgnored, 0, "no correct clock is left out after the first");
      assert.ok(on.ensembleDriftMs < 2, `seed ${seed}: the ensemble moved ${on.ensembleDriftMs} ms`);
      assert.equal(off.faultyAveraged, clockSyncDefaults.rounds, "every measured average took it in");
      // 5% drift over a 1000 ms period, a fifth of each average: about 10 ms per round.
      assert.ok(off.ensembleDriftMs > 50, `seed ${seed}: the ensemble moved only ${off.ensembleDriftMs} ms`);
      assert.ok(off.precisionMs > on.precisionMs);
    }
  });

  it("breaks the precision bound when averaged in (the oracle fails), and not when rejected", () => {
    const over = { faulty: 1, faultyDriftPpm: 200_000 };
    const off = runClockSync(config("berkeley", { ...over, outlierMs: null }));
    assert.equal(off.ok, false);
    assert.match(off.violations.join("; "), /precision .* exceeds the bound/);
    const on = runClockSync(config("berkeley", over));
    assert.ok(on.ok, on.violations.join("; "));
  });

  it("harms no one else under cristian or master: only correct clocks are judged, and they stay within bounds", () => {
    for (const strategy of ["cristian", "master"] as const) {
      const r = runClockSync(config(strategy, { faulty: 2, faultyDriftPpm: 500_000 }));
      assert.ok(r.ok, r.violations.join("; "));
    }
  });
});

describe("clock-sync: determinism and the command", () => {
  it("the same seed gives the same report and trace; another seed another run", () => {
    for (const strategy of ["cristian", "master", "berkeley"] as const) {
      const a = runClockSync(config(strategy, { seed: 9, trace: true }));
      const b = runClockSync(config(strategy, { seed: 9, trace: true }));
      assert.deepEqual(a, b);
      assert.ok((a.traceJsonl ?? "").length > 0);
      const c = runClockSync(config(strategy, { seed: 10, trace: true }));
      assert.notEqual(c.traceJsonl, a.traceJsonl);
    }
    assert.deepEqual(runAlgorithm({ seed: 4 }), runAlgorithm({ seed: 4 }));
  });

  it("without --strategy compares the three methods; a report line counts messages", () => {
    const r = runAlgorithm({});
    assert.ok(r.ok, r.lines.join("\n"));
    assert.match(r.lines[0] ?? "", /every bound held/);
    assert.ok(r.lines.some((l) => l.includes("messages")));
    for (const s of ["cristian", "master", "berkeley"]) assert.ok(r.lines.some((l) => l.startsWith(s)));
    assert.equal(typeof r.figures.berkeleyPrecisionMs, "number");
  });

  it("one method: summary, settings applied, figures, and the trace written to a file", () => {
    const dir = mkdtempSync(join(tmpdir(), "clock-sync-"));
    try {
      const file = join(dir, "run.jsonl");
      const r = runAlgorithm({
        strategy: "berkeley",
        nodes: 4,
        traitors: 1,
        seed: 2,
        trace: file,
        settings: { period: "500", drift: "200", min: "2", max: "8", outlier: "15" },
      });
      assert.ok(r.ok, r.lines.join("\n"));
      assert.match(r.lines[0] ?? "", /^clock-sync berkeley: precision .* bounds held$/);
      assert.ok(r.lines.some((l) => l.startsWith("messages: ")));
      assert.ok(r.lines.some((l) => l.includes("outlier threshold 15.00 ms")));
      assert.equal(r.figures.faulty, 1);
      const { header, events } = parseJsonl(r.traceJsonl ?? "");
      assert.equal(header?.protocol, "clock-sync");
      assert.ok(events.some((e) => e.kind === "send" && e.label === "poll"));
      assert.ok(events.some((e) => e.kind === "output" && e.label === "average"));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses options it cannot run with BAD_ARGUMENT", () => {
    const bad: Array<Partial<AlgorithmOptions>> = [
      { strategy: "ntp" },
      { nodes: 1 },
      { nodes: 4, traitors: 3 },
      { seed: 1.5 },
      { trace: "x.jsonl" },
      { settings: { jitter: "1" } },
      { settings: { period: "fast" } },
      { settings: { min: "5", max: "2" } },
      { settings: { drift: "200000" } },
      { strategy: "cristian", settings: { period: "50" } },
      { settings: { samples: "0" } },
      { settings: { rounds: "2.5" } },
      { settings: { assume: "max" } },
      { settings: { outlier: "-1" } },
    ];
    for (const options of bad)
      assert.throws(
        () => runAlgorithm(options),
        (e: unknown) => isPhalanxError(e, "BAD_ARGUMENT"),
        JSON.stringify(options),
      );
    const refused: ClockSyncConfig[] = [
      config("master", { clocks: Array.from({ length: 5 }, () => ({ offsetMs: 3, driftPpm: 0 })) }),
      config("cristian", { clocks: [{ offsetMs: 0, driftPpm: 0 }] }),
      config("berkeley", { links: [{ from: 0, to: 1, minMs: 0.5, maxMs: 2 }] }),
    ];
    for (const c of refused)
      assert.throws(
        () => runClockSync(c),
        (e: unknown) => isPhalanxError(e, "BAD_ARGUMENT"),
      );
  });
});
