import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  compareHlc,
  type HlcTimestamp,
  HybridLogicalClock,
  hlcLogicalMax,
  hlcMaxOffsetMsDefault,
} from "../../src/clock/hlc.ts";
import { isPhalanxError } from "../../src/core/errors.ts";

function ts(wall: number, logical: number): HlcTimestamp {
  return { wall, logical };
}

describe("HybridLogicalClock", () => {
  it("follows physical time and resets the logical part when physical time advances", () => {
    const clock = new HybridLogicalClock();
    assert.deepEqual(clock.now(100), ts(100, 0));
    assert.deepEqual(clock.now(100), ts(100, 1)); // same millisecond: logical counts
    assert.deepEqual(clock.now(100), ts(100, 2));
    assert.deepEqual(clock.now(101), ts(101, 0)); // physical advanced: logical resets
    assert.deepEqual(clock.now(250), ts(250, 0));
  });

  it("stays monotonic when physical time goes backwards", () => {
    const clock = new HybridLogicalClock();
    clock.now(1000);
    assert.deepEqual(clock.now(990), ts(1000, 1));
    assert.deepEqual(clock.now(995), ts(1000, 2));
    assert.deepEqual(clock.now(1001), ts(1001, 0));
  });

  it("receive applies the four cases of the Kulkarni et al. receive rule", () => {
    const clock = new HybridLogicalClock();
    clock.now(100); // (100, 0)
    // remote ahead of both: adopt its wall, logical = remote + 1
    assert.deepEqual(clock.receive(ts(150, 7), 120), { ok: true, timestamp: ts(150, 8) });
    // remote wall equals local wall: max of the logical parts + 1
    assert.deepEqual(clock.receive(ts(150, 20), 130), { ok: true, timestamp: ts(150, 21) });
    // local wall largest: local logical + 1
    assert.deepEqual(clock.receive(ts(140, 99), 140), { ok: true, timestamp: ts(150, 22) });
    // physical time largest: logical resets
    assert.deepEqual(clock.receive(ts(160, 5), 200), { ok: true, timestamp: ts(200, 0) });
  });

  it("refuses a remote timestamp more than maxOffsetMs ahead and stays unchanged", () => {
    const clock = new HybridLogicalClock({ maxOffsetMs: 500 });
    assert.equal(clock.maxOffsetMs, 500);
    clock.now(1000);
    const refused = clock.receive(ts(1501, 0), 1000);
    assert.equal(refused.ok, false);
    assert.ok(!refused.ok && refused.code === "CLOCK_OFFSET_EXCEEDED");
    assert.deepEqual(clock.last, ts(1000, 0));
    assert.deepEqual(clock.receive(ts(1_000_000_000, 0), 1000).ok, false);
    // exactly maxOffsetMs ahead is still accepted (CockroachDB refuses only beyond it)
    assert.deepEqual(clock.receive(ts(1500, 3), 1000), { ok: true, timestamp: ts(1500, 4) });
  });

  it("uses a 500 ms default and accepts Infinity to turn the check off", () => {
    assert.equal(hlcMaxOffsetMsDefault, 500);
    const byDefault = new HybridLogicalClock();
    assert.equal(byDefault.receive(ts(501, 0), 0).ok, false);
    assert.equal(byDefault.receive(ts(500, 0), 0).ok, true);
    const unchecked = new HybridLogicalClock({ maxOffsetMs: Number.POSITIVE_INFINITY });
    assert.deepEqual(unchecked.receive(ts(1e12, 0), 0), { ok: true, timestamp: ts(1e12, 1) });
    for (const bad of [-1, Number.NaN]) {
      assert.throws(
        () => new HybridLogicalClock({ maxOffsetMs: bad }),
        (e: unknown) => isPhalanxError(e, "BAD_ARGUMENT"),
      );
    }
  });

  it("refuses malformed remote timestamps", () => {
    const clock = new HybridLogicalClock();
    clock.now(10);
    const bad: unknown[] = [
      null,
      {},
      { wall: -1, logical: 0 },
      { wall: Number.NaN, logical: 0 },
      { wall: 5, logical: -1 },
      { wall: 5, logical: 0.5 },
      { wall: 5, logical: hlcLogicalMax + 1 },
      { wall: "5", logical: 0 },
    ];
    for (const remote of bad) {
      const result = clock.receive(remote as HlcTimestamp, 10);
      assert.ok(!result.ok && result.code === "MALFORMED", `accepted ${JSON.stringify(remote)}`);
    }
    assert.deepEqual(clock.last, ts(10, 0));
    assert.equal(clock.receive(ts(5, hlcLogicalMax), 10).ok, true);
  });

  it("compare orders by wall, then logical", () => {
    assert.ok(compareHlc(ts(1, 9), ts(2, 0)) < 0);
    assert.ok(compareHlc(ts(2, 0), ts(1, 9)) > 0);
    assert.ok(compareHlc(ts(2, 1), ts(2, 3)) < 0);
    assert.equal(compareHlc(ts(2, 3), ts(2, 3)), 0);
    assert.equal(HybridLogicalClock.compare(ts(2, 3), ts(2, 4)), -1);
  });

  it("property: strictly monotonic, wall >= physical, and wall - physical <= maxOffsetMs", () => {
    const maxOffsetMs = 50;
    // Each step: physical time advances by 0..3 ms, then a local event or a receive of a remote
    // timestamp whose wall is physical time plus an offset in [-200, 200] (some get refused).
    const step = fc.record({
      advanceMs: fc.nat({ max: 3 }),
      remote: fc.option(
        fc.record({ offsetMs: fc.integer({ min: -200, max: 200 }), logical: fc.nat({ max: 5 }) }),
      ),
    });
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 100 }), (steps) => {
        const clock = new HybridLogicalClock({ maxOffsetMs });
        let physicalMs = 1000;
        let previous = clock.last;
        for (const { advanceMs, remote } of steps) {
          physicalMs += advanceMs;
          let stamped: HlcTimestamp;
          if (remote === null) {
            stamped = clock.now(physicalMs);
            // logical resets exactly when physical time has moved past the last wall time
            assert.equal(stamped.logical === 0, physicalMs > previous.wall);
          } else {
            const remoteTs = ts(Math.max(0, physicalMs + remote.offsetMs), remote.logical);
            const result = clock.receive(remoteTs, physicalMs);
            assert.equal(result.ok, remote.offsetMs <= maxOffsetMs);
            if (!result.ok) {
              assert.deepEqual(clock.last, previous);
              continue;
            }
            stamped = result.timestamp;
            assert.ok(compareHlc(remoteTs, stamped) < 0, "a receive is after the send");
          }
          assert.ok(compareHlc(previous, stamped) < 0, "strictly monotonic");
          assert.ok(stamped.wall >= physicalMs, "never behind physical time");
          assert.ok(stamped.wall - physicalMs <= maxOffsetMs, "never further ahead than maxOffsetMs");
          previous = stamped;
        }
      }),
      { numRuns: 300 },
    );
  });
});
