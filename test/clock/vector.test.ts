import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { VectorClock, vectorClockEntriesMax } from "../../src/clock/vector.ts";
import { isPhalanxError } from "../../src/core/errors.ts";
import { type NodeId, nodeId } from "../../src/core/ids.ts";

const v = VectorClock.fromArray;
const P = nodeId(0);
const Q = nodeId(1);

describe("VectorClock: seed 002 examples", () => {
  it("time-line: VT(A)=[1,0] < VT(D)=[2,4]; VT(B)=[3,0] concurrent with VT(D)", () => {
    // p: A (local), snd(m), B (local). q: C (local), rcv(m), E (local), D (local).
    let p = VectorClock.empty();
    let q = VectorClock.empty();
    const A = (p = p.tick(P));
    const m = (p = p.tick(P)); // VT(m) = VT_p after the send event
    const B = (p = p.tick(P));
    q = q.tick(Q);
    q = q.receive(Q, m);
    assert.deepEqual(q.toJSON(), { "0": 2, "1": 2 });
    q = q.tick(Q);
    const D = (q = q.tick(Q));

    assert.deepEqual(A.toJSON(), v([1, 0]).toJSON());
    assert.deepEqual(B.toJSON(), v([3, 0]).toJSON());
    assert.deepEqual(D.toJSON(), v([2, 4]).toJSON());
    assert.equal(VectorClock.compare(A, D), "before");
    assert.ok(VectorClock.lt(A, D));
    assert.equal(VectorClock.compare(D, A), "after");
    assert.equal(VectorClock.compare(B, D), "concurrent");
    assert.equal(VectorClock.compare(D, B), "concurrent");
    assert.ok(!B.leq(D));
    assert.ok(!D.leq(B));
  });

  it("[2,4] <= [2,4] and they compare equal, but not <", () => {
    assert.ok(VectorClock.leq(v([2, 4]), v([2, 4])));
    assert.equal(VectorClock.compare(v([2, 4]), v([2, 4])), "equal");
    assert.ok(!VectorClock.lt(v([2, 4]), v([2, 4])));
  });

  it("[1,3] < [7,3]", () => {
    assert.ok(VectorClock.lt(v([1, 3]), v([7, 3])));
    assert.equal(VectorClock.compare(v([1, 3]), v([7, 3])), "before");
    assert.equal(VectorClock.compare(v([7, 3]), v([1, 3])), "after");
  });

  it("[1,3] and [3,1] are incomparable (concurrent)", () => {
    assert.equal(VectorClock.compare(v([1, 3]), v([3, 1])), "concurrent");
    assert.ok(!v([1, 3]).leq(v([3, 1])));
    assert.ok(!v([3, 1]).leq(v([1, 3])));
  });
});

describe("VectorClock: sparse node ids", () => {
  const a = nodeId(3);
  const b = nodeId(17);
  const c = nodeId(42);

  it("works with non-contiguous ids 3, 17, 42", () => {
    let x = VectorClock.empty().tick(a).tick(a); // {3:2}
    let y = VectorClock.empty().tick(c); // {42:1}
    assert.equal(x.compare(y), "concurrent");
    y = y.receive(c, x); // {3:2, 42:2}
    assert.equal(x.compare(y), "before");
    x = x.tick(b); // {3:2, 17:1}
    assert.equal(x.compare(y), "concurrent");
    const z = x.merge(y);
    assert.deepEqual(z.toJSON(), { "3": 2, "17": 1, "42": 2 });
    assert.equal(z.get(a), 2);
    assert.equal(z.get(b), 1);
    assert.equal(z.get(c), 2);
    assert.equal(z.get(nodeId(0)), 0);
    assert.equal(z.get(nodeId(41)), 0);
    assert.equal(z.size, 3);
    assert.ok(x.lt(z) && y.lt(z));
  });

  it("a missing entry equals an explicit zero", () => {
    const sparse = VectorClock.fromEntries([[nodeId(17), 1]]);
    const dense = VectorClock.fromArray([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]);
    assert.equal(sparse.compare(dense), "equal");
    assert.equal(VectorClock.empty().compare(VectorClock.fromArray([0, 0, 0])), "equal");
    assert.equal(VectorClock.empty().compare(sparse), "before");
  });

  it("toJSON lists non-zero entries in ascending node order, including ids beyond 2^32", () => {
    const big = nodeId(2 ** 40);
    const x = VectorClock.empty().tick(big).tick(c).tick(a).tick(b).tick(a);
    assert.deepEqual(Object.keys(x.toJSON()), ["3", "17", "42", String(2 ** 40)]);
    assert.deepEqual(Object.values(x.toJSON()), [2, 1, 1, 1]);
    assert.equal(JSON.stringify(x), `{"3":2,"17":1,"42":1,"${2 ** 40}":1}`);
    assert.equal(x.toString(), `{3:2, 17:1, 42:1, ${2 ** 40}:1}`);
  });
});

describe("VectorClock: value semantics and JSON", () => {
  it("tick and merge return new clocks and never change their inputs", () => {
    const x = v([1, 2]);
    const y = v([3, 0, 5]);
    const t = x.tick(Q);
    const m = x.merge(y);
    assert.deepEqual(x.toJSON(), { "0": 1, "1": 2 });
    assert.deepEqual(y.toJSON(), { "0": 3, "2": 5 });
    assert.deepEqual(t.toJSON(), { "0": 1, "1": 3 });
    assert.deepEqual(m.toJSON(), { "0": 3, "1": 2, "2": 5 });
    const copy = x.clone();
    assert.notEqual(copy, x);
    assert.ok(copy.equals(x));
  });

  it("fromJSON(toJSON(x)) equals x, and drops zero entries", () => {
    const x = v([0, 4, 0, 1]);
    const back = VectorClock.fromJSON(JSON.parse(JSON.stringify(x)));
    assert.ok(back.equals(x));
    assert.deepEqual(back.toJSON(), { "1": 4, "3": 1 });
    assert.deepEqual(VectorClock.fromJSON({ "5": 0, "6": 2 }).toJSON(), { "6": 2 });
  });

  it("fromJSON refuses malformed input with DECODE_FAILED", () => {
    const bad: unknown[] = [
      null,
      7,
      "x",
      [1, 2],
      { "-1": 1 },
      { "01": 1 },
      { "1e3": 1 },
      { " 3": 1 },
      { a: 1 },
      { "3": -1 },
      { "3": 1.5 },
      { "3": "2" },
      { "3": Number.POSITIVE_INFINITY },
      { "9007199254740993": 1 },
    ];
    for (const input of bad) {
      assert.throws(
        () => VectorClock.fromJSON(input),
        (e: unknown) => isPhalanxError(e, "DECODE_FAILED"),
        `accepted ${JSON.stringify(input)}`,
      );
    }
    const huge: Record<string, number> = {};
    for (let i = 0; i <= vectorClockEntriesMax; i++) huge[String(i)] = 1;
    assert.throws(
      () => VectorClock.fromJSON(huge),
      (e: unknown) => isPhalanxError(e, "DECODE_FAILED"),
    );
  });

  it("fromEntries refuses duplicate nodes", () => {
    assert.throws(
      () =>
        VectorClock.fromEntries([
          [nodeId(3), 1],
          [nodeId(3), 2],
        ]),
      (e: unknown) => isPhalanxError(e, "BAD_ARGUMENT"),
    );
  });
});

/** Reference definitions from seed 002, over dense arrays, to check the sparse implementation. */
function referenceLeq(a: readonly number[], b: readonly number[]): boolean {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) if ((a[i] ?? 0) > (b[i] ?? 0)) return false;
  return true;
}

describe("VectorClock: properties", () => {
  const vector = fc.array(fc.nat({ max: 4 }), { maxLength: 6 });

  it("compare agrees with the seed's definitions of <= and <", () => {
    fc.assert(
      fc.property(vector, vector, (a, b) => {
        const leq = referenceLeq(a, b);
        const geq = referenceLeq(b, a);
        const expected = leq && geq ? "equal" : leq ? "before" : geq ? "after" : "concurrent";
        const x = v(a);
        const y = v(b);
        assert.equal(x.compare(y), expected);
        assert.equal(x.leq(y), leq);
        assert.equal(x.lt(y), leq && !geq);
      }),
      { numRuns: 1000 },
    );
  });

  it("merge is the least upper bound: commutative, idempotent, above both inputs", () => {
    fc.assert(
      fc.property(vector, vector, vector, (a, b, c) => {
        const [x, y, z] = [v(a), v(b), v(c)];
        const m = x.merge(y);
        assert.ok(m.equals(y.merge(x)));
        assert.ok(x.merge(x).equals(x));
        assert.ok(x.leq(m) && y.leq(m));
        assert.ok(
          x
            .merge(y)
            .merge(z)
            .equals(x.merge(y.merge(z))),
        );
        if (x.leq(z) && y.leq(z)) assert.ok(m.leq(z));
        const n = Math.max(a.length, b.length);
        for (let i = 0; i < n; i++) assert.equal(m.get(i as NodeId), Math.max(a[i] ?? 0, b[i] ?? 0));
      }),
      { numRuns: 500 },
    );
  });
});
