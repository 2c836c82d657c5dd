/**
 * Properties of the KV state machine over random op sequences: agreement with an independent
 * reference model, determinism, the incremental AdHash digest against a from-scratch sum,
 * snapshot/restore round trips, order independence across keys, and sensitivity to any change.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import type { KvOp } from "../../src/kv/ops.ts";
import { KvStateMachine } from "../../src/kv/state-machine.ts";
import { hex, KvModel, keyArb, opArb, recomputeDigest, valueArb, writeOpArb } from "./model.ts";

const runs = { numRuns: 300 };
const opsArb = fc.array(opArb, { maxLength: 80 });

function applyAll(ops: readonly KvOp[]): KvStateMachine {
  const m = new KvStateMachine();
  for (const op of ops) m.apply(op);
  return m;
}

describe("kv state machine against the reference model", () => {
  it("gives the model's result for every op, and the model's entries at the end", () => {
    fc.assert(
      fc.property(opsArb, (ops) => {
        const m = new KvStateMachine();
        const model = new KvModel();
        for (const op of ops) assert.deepEqual(m.apply(op), model.apply(op), JSON.stringify(op));
        assert.deepEqual([...m.entries()], model.entries());
        assert.equal(m.size, model.entries().filter((e) => e.value !== null).length);
      }),
      runs,
    );
  });

  it("is deterministic: two machines fed the same ops agree on every result and the digest", () => {
    fc.assert(
      fc.property(opsArb, (ops) => {
        const a = new KvStateMachine();
        const b = new KvStateMachine();
        for (const op of ops) assert.deepEqual(a.apply(op), b.apply(op));
        assert.equal(hex(a.digest()), hex(b.digest()));
        assert.equal(hex(a.snapshot()), hex(b.snapshot()));
      }),
      runs,
    );
  });
});

describe("kv incremental digest", () => {
  it("equals the from-scratch sum over the model's entries after every op", () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 40 }), (ops) => {
        const m = new KvStateMachine();
        const model = new KvModel();
        assert.equal(hex(m.digest()), hex(recomputeDigest([])));
        for (const op of ops) {
          m.apply(op);
          model.apply(op);
          assert.equal(hex(m.digest()), hex(recomputeDigest(model.entries())), JSON.stringify(op));
        }
      }),
      { numRuns: 150 },
    );
  });

  it("matches the from-scratch sum after many ops over many keys (limb carries and borrows)", () => {
    const m = new KvStateMachine();
    for (let i = 0; i < 3000; i++) {
      const key = `k${(i * 37) % 700}`;
      if (i % 5 === 4) m.apply({ kind: "delete", key });
      else m.apply({ kind: "put", key, value: `v${i}` });
    }
    assert.equal(hex(m.digest()), hex(recomputeDigest(m.entries())));
  });

  it("is 32 bytes, a fresh copy each call", () => {
    const m = applyAll([{ kind: "put", key: "k", value: "v" }]);
    const d = m.digest();
    assert.equal(d.length, 32);
    d.fill(0);
    assert.notDeepEqual(m.digest(), d);
  });

  it("does not depend on the interleaving of ops on different keys", () => {
    fc.assert(
      fc.property(
        fc.array(writeOpArb, { maxLength: 60 }),
        fc.array(fc.nat(), { maxLength: 60 }),
        (ops, picks) => {
          // Per-key queues keep each key's own order; the picks interleave the keys differently.
          const queues = new Map<string, KvOp[]>();
          for (const op of ops) {
            const key = op.kind === "scan" ? "" : op.key;
            queues.set(key, [...(queues.get(key) ?? []), op]);
          }
          const lists = [...queues.values()].reverse();
          const interleaved: KvOp[] = [];
          let p = 0;
          while (lists.some((l) => l.length > 0)) {
            const open = lists.filter((l) => l.length > 0);
            interleaved.push(open[(picks[p++] ?? 0) % open.length]!.shift()!);
          }
          const a = applyAll(ops);
          const b = applyAll(interleaved);
          assert.equal(hex(a.digest()), hex(b.digest()));
          assert.equal(hex(a.snapshot()), hex(b.snapshot()));
        },
      ),
      runs,
    );
  });

  it("differs for different states: one more put, a delete, a version, a tombstone", () => {
    fc.assert(
      fc.property(opsArb, keyArb, valueArb, (ops, key, value) => {
        const base = applyAll(ops);
        const d0 = hex(base.digest());
        const extra = KvStateMachine.restore(base.snapshot());
        extra.apply({ kind: "put", key, value });
        assert.notEqual(hex(extra.digest()), d0, "one extra put");
        const deleted = KvStateMachine.restore(extra.snapshot());
        deleted.apply({ kind: "delete", key });
        assert.notEqual(hex(deleted.digest()), hex(extra.digest()), "a delete");
        assert.notEqual(hex(deleted.digest()), d0, "a tombstone is not the same as the earlier state");
      }),
      runs,
    );
    // Same value, other version; a tombstone against a key never written.
    const v1 = applyAll([{ kind: "put", key: "k", value: "v" }]);
    const v2 = applyAll([
      { kind: "put", key: "k", value: "v" },
      { kind: "put", key: "k", value: "v" },
    ]);
    assert.notEqual(hex(v1.digest()), hex(v2.digest()));
    const tomb = applyAll([
      { kind: "put", key: "k", value: "v" },
      { kind: "delete", key: "k" },
    ]);
    assert.notEqual(hex(tomb.digest()), hex(new KvStateMachine().digest()));
  });
});

describe("kv snapshot and restore", () => {
  it("round-trips: same digest, same entries, same bytes, and the copy keeps working alike", () => {
    fc.assert(
      fc.property(opsArb, opsArb, (before, after) => {
        const m = applyAll(before);
        const snap = m.snapshot();
        const r = KvStateMachine.restore(snap);
        assert.equal(hex(r.digest()), hex(m.digest()));
        assert.deepEqual([...r.entries()], [...m.entries()]);
        assert.equal(hex(r.snapshot()), hex(snap));
        assert.equal(r.size, m.size);
        assert.equal(r.stateBytes, m.stateBytes);
        for (const op of after) assert.deepEqual(r.apply(op), m.apply(op));
        assert.equal(hex(r.digest()), hex(m.digest()));
      }),
      runs,
    );
  });

  it("restores a large store (thousands of keys, tombstones, chunk boundaries)", () => {
    const m = new KvStateMachine();
    for (let i = 0; i < 6000; i++) m.apply({ kind: "put", key: `key${(i * 7919) % 6000}`, value: `${i}` });
    for (let i = 0; i < 6000; i += 4) m.apply({ kind: "delete", key: `key${i}` });
    const r = KvStateMachine.restore(m.snapshot());
    assert.equal(hex(r.digest()), hex(m.digest()));
    assert.equal(hex(r.digest()), hex(recomputeDigest(m.entries())));
    for (const prefix of ["", "key1", "key59", "key6"]) {
      const op: KvOp = { kind: "scan", prefix, limit: 1000 };
      assert.deepEqual(r.apply(op), m.apply(op));
    }
    for (let i = 0; i < 6000; i += 3) {
      const op: KvOp =
        i % 2 ? { kind: "delete", key: `key${i}` } : { kind: "put", key: `key${i}`, value: "z" };
      assert.deepEqual(r.apply(op), m.apply(op));
    }
    assert.equal(hex(r.snapshot()), hex(m.snapshot()));
  });
});
