/**
 * The KV state machine's per-op semantics (the model of src/sim/checkers/linearizability.ts):
 * versions, tombstones, cas from null, scans; and the refusal of invalid ops without any change.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decode, encode } from "../../src/core/codec.ts";
import { limits } from "../../src/core/limits.ts";
import { isReadOnly, type KvOp, type KvResult } from "../../src/kv/ops.ts";
import { kvServiceFactory } from "../../src/kv/service.ts";
import { KvStateMachine } from "../../src/kv/state-machine.ts";
import { hex } from "./model.ts";

function machine(...ops: KvOp[]): KvStateMachine {
  const m = new KvStateMachine();
  for (const op of ops) m.apply(op);
  return m;
}
const put = (key: string, value: string): KvOp => ({ kind: "put", key, value });
const del = (key: string): KvOp => ({ kind: "delete", key });
const get = (key: string): KvOp => ({ kind: "get", key });
const cas = (key: string, from: string | null, to: string): KvOp => ({ kind: "cas", key, from, to });
const scan = (prefix: string, limit: number): KvOp => ({ kind: "scan", prefix, limit });
const zeroDigest = new Uint8Array(32);

describe("kv semantics: get, put, delete", () => {
  it("get of a key never written is {null, 0}", () => {
    assert.deepEqual(new KvStateMachine().apply(get("k")), { kind: "get", value: null, version: 0 });
  });

  it("put increments the version from 1 and get returns value and version", () => {
    const m = new KvStateMachine();
    assert.deepEqual(m.apply(put("k", "a")), { kind: "put", version: 1 });
    assert.deepEqual(m.apply(put("k", "a")), { kind: "put", version: 2 });
    assert.deepEqual(m.apply(put("k", "b")), { kind: "put", version: 3 });
    assert.deepEqual(m.apply(get("k")), { kind: "get", value: "b", version: 3 });
    assert.deepEqual(m.apply(get("other")), { kind: "get", value: null, version: 0 });
    assert.equal(m.size, 1);
  });

  it("delete leaves a tombstone that keeps the version, and versions continue after it", () => {
    const m = machine(put("k", "a"), put("k", "b"));
    assert.deepEqual(m.apply(del("k")), { kind: "delete", existed: true });
    assert.deepEqual(m.apply(get("k")), { kind: "get", value: null, version: 3 });
    assert.equal(m.size, 0);
    assert.equal(m.keyCount, 1);
    const before = hex(m.digest());
    assert.deepEqual(m.apply(del("k")), { kind: "delete", existed: false });
    assert.equal(hex(m.digest()), before, "deleting a tombstone changes nothing");
    assert.deepEqual(m.apply(get("k")), { kind: "get", value: null, version: 3 });
    assert.deepEqual(m.apply(put("k", "c")), { kind: "put", version: 4 });
    assert.deepEqual([...m.entries()], [{ key: "k", value: "c", version: 4 }]);
  });

  it("delete of a key never written changes nothing and creates no entry", () => {
    const m = new KvStateMachine();
    assert.deepEqual(m.apply(del("k")), { kind: "delete", existed: false });
    assert.equal(m.keyCount, 0);
    assert.deepEqual(m.digest(), zeroDigest);
    assert.deepEqual([...m.entries()], []);
  });

  it("the empty key and the empty value are ordinary", () => {
    const m = machine(put("", ""));
    assert.deepEqual(m.apply(get("")), { kind: "get", value: "", version: 1 });
    assert.deepEqual(m.apply(cas("", "", "x")), { kind: "cas", ok: true, version: 2 });
  });
});

describe("kv semantics: cas", () => {
  it("from null succeeds on a key never written, with version 1", () => {
    const m = new KvStateMachine();
    assert.deepEqual(m.apply(cas("k", null, "a")), { kind: "cas", ok: true, version: 1 });
    assert.deepEqual(m.apply(get("k")), { kind: "get", value: "a", version: 1 });
  });

  it("from null fails on a present key, reporting its version", () => {
    const m = machine(put("k", "a"), put("k", "b"));
    const before = hex(m.digest());
    assert.deepEqual(m.apply(cas("k", null, "c")), { kind: "cas", ok: false, version: 2 });
    assert.deepEqual(m.apply(get("k")), { kind: "get", value: "b", version: 2 });
    assert.equal(hex(m.digest()), before);
  });

  it("from null succeeds on a tombstone and continues its versions", () => {
    const m = machine(put("k", "a"), del("k"));
    assert.deepEqual(m.apply(cas("k", null, "c")), { kind: "cas", ok: true, version: 3 });
    assert.deepEqual(m.apply(scan("", 10)), {
      kind: "scan",
      entries: [{ key: "k", value: "c", version: 3 }],
    });
  });

  it("a matching value succeeds (even when to equals from); a mismatch fails with the current version", () => {
    const m = machine(put("k", "a"));
    assert.deepEqual(m.apply(cas("k", "a", "a")), { kind: "cas", ok: true, version: 2 });
    assert.deepEqual(m.apply(cas("k", "a", "b")), { kind: "cas", ok: true, version: 3 });
    assert.deepEqual(m.apply(cas("k", "a", "c")), { kind: "cas", ok: false, version: 3 });
    assert.deepEqual(m.apply(get("k")), { kind: "get", value: "b", version: 3 });
  });

  it("a non-null from fails on a tombstone and on a key never written, creating nothing", () => {
    const m = machine(put("t", "a"), del("t"));
    assert.deepEqual(m.apply(cas("t", "a", "b")), { kind: "cas", ok: false, version: 2 });
    assert.deepEqual(m.apply(cas("new", "a", "b")), { kind: "cas", ok: false, version: 0 });
    assert.equal(m.keyCount, 1);
  });
});

describe("kv semantics: scan", () => {
  const m = machine(
    put("b", "2"),
    put("ab", "x"),
    put("a", "1"),
    put("abc", "3"),
    put("ac", "4"),
    put("abd", "gone"),
    del("abd"),
    put("a\u{10000}", "astral"),
    put("a\uffff", "bmp"),
  );

  it("returns the live keys with the prefix in ascending (UTF-16) order", () => {
    const r = m.apply(scan("a", 100));
    assert.equal(r.kind, "scan");
    if (r.kind !== "scan") return;
    const keys = r.entries.map((e) => e.key);
    assert.deepEqual(keys, ["a", "ab", "abc", "ac", "a\u{10000}", "a\uffff"]);
    assert.deepEqual(keys, [...keys].sort(), "the order of Array.prototype.sort");
    assert.deepEqual(r.entries[1], { key: "ab", value: "x", version: 1 });
  });

  it("excludes tombstones and stops at the end of the prefix's run", () => {
    assert.deepEqual(m.apply(scan("ab", 100)), {
      kind: "scan",
      entries: [
        { key: "ab", value: "x", version: 1 },
        { key: "abc", value: "3", version: 1 },
      ],
    });
    assert.deepEqual(m.apply(scan("abd", 100)), { kind: "scan", entries: [] });
    assert.deepEqual(m.apply(scan("c", 100)), { kind: "scan", entries: [] });
  });

  it("returns at most limit entries, the smallest keys first; limit 0 returns none", () => {
    const two = m.apply(scan("", 2));
    assert.deepEqual(two.kind === "scan" && two.entries.map((e) => e.key), ["a", "ab"]);
    assert.deepEqual(m.apply(scan("", 0)), { kind: "scan", entries: [] });
    const all = m.apply(scan("", 100));
    assert.equal(all.kind === "scan" && all.entries.length, 7);
  });

  it("sees a key again after it is re-created", () => {
    const m2 = machine(put("k1", "a"), put("k2", "b"), del("k1"), put("k1", "c"));
    assert.deepEqual(m2.apply(scan("k", 10)), {
      kind: "scan",
      entries: [
        { key: "k1", value: "c", version: 3 },
        { key: "k2", value: "b", version: 1 },
      ],
    });
  });

  it("pages across many keys (chunk splits) in order", () => {
    const big = new KvStateMachine();
    const keys: string[] = [];
    for (let i = 0; i < 5000; i++) keys.push(`key${(i * 7919) % 5000}`);
    for (const k of keys) big.apply(put(k, "v"));
    for (let i = 0; i < 5000; i += 3) big.apply(del(`key${i}`));
    const expected = keys.filter((k) => Number(k.slice(3)) % 3 !== 0).sort();
    const seen: string[] = [];
    let prefix = "key1";
    const r = big.apply(scan(prefix, 1000));
    if (r.kind === "scan") seen.push(...r.entries.map((e) => e.key));
    assert.deepEqual(seen, expected.filter((k) => k.startsWith(prefix)).slice(0, 1000));
    prefix = "key49";
    const r2 = big.apply(scan(prefix, 1000));
    assert.deepEqual(
      r2.kind === "scan" && r2.entries.map((e) => e.key),
      expected.filter((k) => k.startsWith(prefix)),
    );
  });
});

describe("kv read-only path", () => {
  it("isReadOnly is true exactly for get and scan", () => {
    assert.equal(isReadOnly(get("k")), true);
    assert.equal(isReadOnly(scan("", 1)), true);
    assert.equal(isReadOnly(put("k", "v")), false);
    assert.equal(isReadOnly(del("k")), false);
    assert.equal(isReadOnly(cas("k", null, "v")), false);
  });

  it("read answers like apply for get and scan, and refuses writes without changing state", () => {
    const m = machine(put("a", "1"), put("b", "2"), del("b"));
    for (const op of [get("a"), get("b"), get("c"), scan("", 5), scan("b", 5)]) {
      assert.deepEqual(m.read(op), m.apply(op));
    }
    const before = m.snapshot();
    for (const op of [put("a", "x"), del("a"), cas("a", "1", "y")]) {
      const r = m.read(op);
      assert.equal(r.kind, "error");
      assert.equal(r.kind === "error" && r.code, "BAD_OP");
    }
    assert.equal(hex(m.snapshot()), hex(before));
  });
});

describe("kv invalid ops", () => {
  const longAscii = "k".repeat(limits.kvKeyBytesMax + 1);
  // 2-byte characters: under the byte bound in UTF-16 units, over it in UTF-8 bytes.
  const longUtf8 = "é".repeat(limits.kvKeyBytesMax / 2 + 1);
  const cases: Array<[string, unknown, "BAD_OP" | "TOO_LARGE"]> = [
    ["null", null, "BAD_OP"],
    ["a string", "get", "BAD_OP"],
    ["an array", ["get", "k"], "BAD_OP"],
    ["a Map", new Map([["kind", "get"]]), "BAD_OP"],
    [
      "a class instance",
      new (class Op {
        kind = "get";
        key = "k";
      })(),
      "BAD_OP",
    ],
    ["no kind", { key: "k" }, "BAD_OP"],
    ["unknown kind", { kind: "drop", key: "k" }, "BAD_OP"],
    ["inherited kind", { kind: "toString", key: "k" }, "BAD_OP"],
    ["missing key", { kind: "get" }, "BAD_OP"],
    ["numeric key", { kind: "get", key: 7 }, "BAD_OP"],
    ["unknown field", { kind: "get", key: "k", extra: 1 }, "BAD_OP"],
    ["put without value", { kind: "put", key: "k" }, "BAD_OP"],
    ["put with a null value", { kind: "put", key: "k", value: null }, "BAD_OP"],
    ["put with bytes", { kind: "put", key: "k", value: new Uint8Array(2) }, "BAD_OP"],
    ["lone surrogate in key", { kind: "put", key: "a\ud800", value: "v" }, "BAD_OP"],
    ["lone surrogate in value", { kind: "put", key: "k", value: "\udc00" }, "BAD_OP"],
    ["key over the bound (ASCII)", { kind: "put", key: longAscii, value: "v" }, "TOO_LARGE"],
    ["key over the bound (UTF-8)", { kind: "get", key: longUtf8 }, "TOO_LARGE"],
    [
      "value over the bound",
      { kind: "put", key: "k", value: "v".repeat(limits.kvValueBytesMax + 1) },
      "TOO_LARGE",
    ],
    ["cas without from", { kind: "cas", key: "k", to: "v" }, "BAD_OP"],
    ["cas with undefined from", { kind: "cas", key: "k", from: undefined, to: "v" }, "BAD_OP"],
    ["cas with a numeric from", { kind: "cas", key: "k", from: 1, to: "v" }, "BAD_OP"],
    ["cas with a null to", { kind: "cas", key: "k", from: null, to: null }, "BAD_OP"],
    [
      "cas from over the bound",
      { kind: "cas", key: "k", from: "f".repeat(limits.kvValueBytesMax + 1), to: "v" },
      "TOO_LARGE",
    ],
    ["scan with a negative limit", { kind: "scan", prefix: "", limit: -1 }, "BAD_OP"],
    ["scan with a fractional limit", { kind: "scan", prefix: "", limit: 1.5 }, "BAD_OP"],
    ["scan with a string limit", { kind: "scan", prefix: "", limit: "3" }, "BAD_OP"],
    ["scan with NaN", { kind: "scan", prefix: "", limit: Number.NaN }, "BAD_OP"],
    [
      "scan over the limit bound",
      { kind: "scan", prefix: "", limit: limits.kvScanLimitMax + 1 },
      "TOO_LARGE",
    ],
    ["scan with a long prefix", { kind: "scan", prefix: longAscii, limit: 1 }, "TOO_LARGE"],
    ["scan with a key field", { kind: "scan", prefix: "", limit: 1, key: "k" }, "BAD_OP"],
  ];

  for (const [name, op, code] of cases) {
    it(`${name} → ${code}, state unchanged`, () => {
      const m = machine(put("k", "v"), put("gone", "x"), del("gone"));
      const digest = hex(m.digest());
      const snapshot = m.snapshot();
      const r = m.apply(op as KvOp);
      assert.equal(r.kind, "error");
      assert.equal(r.kind === "error" && r.code, code, r.kind === "error" ? r.message : "");
      assert.equal(typeof (r.kind === "error" && r.message), "string");
      assert.equal(hex(m.digest()), digest);
      assert.equal(hex(m.snapshot()), hex(snapshot));
      assert.deepEqual(m.read(op as KvOp).kind, "error");
    });
  }

  it("accepts values exactly at the bounds", () => {
    const m = new KvStateMachine();
    const key = "é".repeat(limits.kvKeyBytesMax / 2);
    assert.deepEqual(m.apply(put(key, "v".repeat(limits.kvValueBytesMax))), { kind: "put", version: 1 });
    assert.equal(m.apply(scan("", limits.kvScanLimitMax)).kind, "scan");
    const bare = Object.assign(Object.create(null) as object, { kind: "get", key });
    assert.equal(m.apply(bare as KvOp).kind, "get", "a prototype-less object is a plain object");
  });

  it("a key whose versions are used up refuses writes (only reachable through a snapshot)", () => {
    const m = KvStateMachine.restore(encode([1, ["k", "v", Number.MAX_SAFE_INTEGER]]));
    const before = hex(m.digest());
    assert.equal(m.apply(put("k", "w")).kind, "error");
    assert.equal(m.apply(del("k")).kind, "error");
    assert.equal(m.apply(cas("k", "v", "w")).kind, "error");
    assert.equal(hex(m.digest()), before);
    assert.deepEqual(m.apply(get("k")), { kind: "get", value: "v", version: Number.MAX_SAFE_INTEGER });
  });
});

describe("kv service adapter (bytes in, bytes out)", () => {
  const run = (svc: ReturnType<typeof kvServiceFactory.create>, op: unknown): KvResult =>
    decode<KvResult>(svc.execute(encode(op)));

  it("executes encoded ops and answers encoded read-only queries", () => {
    const svc = kvServiceFactory.create();
    assert.deepEqual(run(svc, put("k", "v")), { kind: "put", version: 1 });
    assert.deepEqual(decode(svc.query(encode(get("k")))!), { kind: "get", value: "v", version: 1 });
    assert.equal(svc.query(encode(put("k", "w"))), undefined, "a write is not read-only");
    const copy = kvServiceFactory.restore(svc.snapshot());
    assert.deepEqual(copy.digest(), svc.digest());
  });

  it("answers undecodable or invalid bytes with an error result and no change", () => {
    const svc = kvServiceFactory.create();
    const before = hex(svc.digest());
    for (const bytes of [
      new Uint8Array(),
      new Uint8Array([0xc1]),
      new Uint8Array([0x92, 0x01]),
      encode({ kind: "x" }),
    ]) {
      const r = decode<KvResult>(svc.execute(bytes));
      assert.equal(r.kind, "error");
      assert.equal(r.kind === "error" && r.code, "BAD_OP");
      assert.equal(decode<KvResult>(svc.query(bytes)!).kind, "error");
    }
    assert.equal(hex(svc.digest()), before);
  });
});
