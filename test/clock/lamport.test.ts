import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { LamportClock } from "../../src/clock/lamport.ts";
import { isPhalanxError } from "../../src/core/errors.ts";

describe("LamportClock", () => {
  it("seed 002 time-line: LT(A)=1, LT(snd_p(m))=2, LT(rcv_q(m))=max(1,2)+1=3", () => {
    const p = new LamportClock();
    const q = new LamportClock();
    const a = p.tick();
    const snd = p.tick();
    const msgTime = snd; // LT_m = LT_p
    const qBefore = q.tick(); // q had one event before receiving
    const rcv = q.receive(msgTime);
    assert.equal(a, 1);
    assert.equal(snd, 2);
    assert.equal(msgTime, 2);
    assert.equal(qBefore, 1);
    assert.equal(rcv, 3);
    assert.equal(q.value, 3);
    assert.equal(p.value, 2);
  });

  it("receive keeps the local time when it is ahead of the message", () => {
    const q = new LamportClock(10);
    assert.equal(q.receive(4), 11);
  });

  it("LT(A) < LT(B) does not imply A -> B (processes that never communicate)", () => {
    const p = new LamportClock();
    const q = new LamportClock();
    const a = p.tick();
    q.tick();
    const b = q.tick();
    assert.ok(a < b); // yet A and B are concurrent: nothing links them
  });

  it("refuses malformed or overflowing message times and stays unchanged", () => {
    const q = new LamportClock(5);
    for (const bad of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, Number.MAX_SAFE_INTEGER]) {
      assert.throws(
        () => q.receive(bad),
        (e: unknown) => isPhalanxError(e, "BAD_ARGUMENT"),
      );
    }
    assert.equal(q.value, 5);
    assert.throws(
      () => new LamportClock(-1),
      (e: unknown) => isPhalanxError(e, "BAD_ARGUMENT"),
    );
  });
});
