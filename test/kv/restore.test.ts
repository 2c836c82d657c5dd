/**
 * KvStateMachine.restore takes bytes from a possibly Byzantine peer or a damaged file: whatever
 * they are, it either returns a valid machine or throws PhalanxError, never anything else.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { encode } from "../../src/core/codec.ts";
import { isPhalanxError } from "../../src/core/errors.ts";
import { limits } from "../../src/core/limits.ts";
import { KvStateMachine } from "../../src/kv/state-machine.ts";
import { hex, opArb, recomputeDigest } from "./model.ts";

function sample(): KvStateMachine {
  const m = new KvStateMachine();
  m.apply({ kind: "put", key: "alpha", value: "1" });
  m.apply({ kind: "put", key: "beta", value: "ü2" });
  m.apply({ kind: "put", key: "gamma", value: "3" });
  m.apply({ kind: "delete", key: "beta" });
  m.apply({ kind: "put", key: "gamma", value: "33" });
  return m;
}

function rejects(bytes: unknown, code?: string): void {
  assert.throws(
    () => KvStateMachine.restore(bytes as Uint8Array),
    (e: unknown) => isPhalanxError(e) && (code === undefined || e.code === code),
  );
}

/** Restore either fails with PhalanxError or yields a machine consistent with itself. */
function restoresOrPhalanxError(bytes: Uint8Array): void {
  let m: KvStateMachine;
  try {
    m = KvStateMachine.restore(bytes);
  } catch (e) {
    assert.ok(isPhalanxError(e), `not a PhalanxError: ${String(e)}`);
    return;
  }
  assert.equal(hex(m.digest()), hex(recomputeDigest(m.entries())));
  assert.equal(hex(KvStateMachine.restore(m.snapshot()).digest()), hex(m.digest()));
}

describe("kv restore rejects bad input with PhalanxError only", () => {
  it("rejects every truncation of a valid snapshot", () => {
    const snap = sample().snapshot();
    for (let n = 0; n < snap.length; n++) rejects(snap.subarray(0, n), "DECODE_FAILED");
  });

  it("rejects trailing bytes after a valid snapshot", () => {
    const snap = sample().snapshot();
    rejects(new Uint8Array([...snap, 0x00]), "DECODE_FAILED");
  });

  it("rejects a non-Uint8Array argument", () => {
    rejects("snapshot", "BAD_ARGUMENT");
    rejects(null, "BAD_ARGUMENT");
    rejects([0x92, 0x01, 0x90], "BAD_ARGUMENT");
  });

  const shapes: Array<[string, unknown, string]> = [
    ["a map", { format: 1, entries: [] }, "DECODE_FAILED"],
    ["a bare number", 1, "DECODE_FAILED"],
    ["one element", [1], "DECODE_FAILED"],
    ["three elements", [1, [], []], "DECODE_FAILED"],
    ["another format", [2, []], "DECODE_FAILED"],
    ["a string format", ["1", []], "DECODE_FAILED"],
    ["a map as format", [{ toString: 1 }, []], "DECODE_FAILED"],
    ["entries not an array", [1, { a: 1 }], "DECODE_FAILED"],
    ["entries not triples", [1, ["a", "v"]], "DECODE_FAILED"],
    ["nested triples", [1, [["a", "v", 1]]], "DECODE_FAILED"],
    ["a numeric key", [1, [1, "v", 1]], "DECODE_FAILED"],
    ["a map key", [1, [{ toString: 1 }, "v", 1]], "DECODE_FAILED"],
    ["a numeric value", [1, ["a", 5, 1]], "DECODE_FAILED"],
    ["a bytes value", [1, ["a", new Uint8Array([1]), 1]], "DECODE_FAILED"],
    ["version 0", [1, ["a", "v", 0]], "DECODE_FAILED"],
    ["a negative version", [1, ["a", "v", -3]], "DECODE_FAILED"],
    ["a fractional version", [1, ["a", "v", 1.5]], "DECODE_FAILED"],
    ["a string version", [1, ["a", "v", "1"]], "DECODE_FAILED"],
    ["a version past 2^53", [1, ["a", "v", 2 ** 60]], "DECODE_FAILED"],
    ["a tombstone at version 1", [1, ["a", null, 1]], "DECODE_FAILED"],
    ["keys out of order", [1, ["b", "v", 1, "a", "v", 1]], "DECODE_FAILED"],
    ["a duplicated key", [1, ["a", "v", 1, "a", "w", 2]], "DECODE_FAILED"],
    ["a key over the bound", [1, ["k".repeat(limits.kvKeyBytesMax + 1), "v", 1]], "LIMIT_EXCEEDED"],
    ["a value over the bound", [1, ["a", "v".repeat(limits.kvValueBytesMax + 1), 1]], "LIMIT_EXCEEDED"],
  ];
  for (const [name, value, code] of shapes) {
    it(`rejects ${name} (${code})`, () => rejects(encode(value), code));
  }

  it("accepts the smallest valid shapes", () => {
    assert.equal(KvStateMachine.restore(encode([1, []])).keyCount, 0);
    const m = KvStateMachine.restore(encode([1, ["a", null, 2, "b", "v", 1]]));
    assert.deepEqual(m.apply({ kind: "get", key: "a" }), { kind: "get", value: null, version: 2 });
    assert.deepEqual(m.apply({ kind: "scan", prefix: "", limit: 5 }), {
      kind: "scan",
      entries: [{ key: "b", value: "v", version: 1 }],
    });
  });

  it("random bytes: a valid machine or PhalanxError", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), restoresOrPhalanxError), { numRuns: 2000 });
  });

  it("random bytes after a valid header: a valid machine or PhalanxError", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), (tail) => {
        restoresOrPhalanxError(new Uint8Array([0x92, 0x01, 0xdc, 0x00, 0x09, ...tail]));
      }),
      { numRuns: 2000 },
    );
  });

  it("any encodable value: a valid machine or PhalanxError", () => {
    fc.assert(
      fc.property(fc.anything(), (value) => {
        let bytes: Uint8Array;
        try {
          bytes = encode([1, value]);
        } catch {
          return; // not encodable: nothing to restore
        }
        restoresOrPhalanxError(bytes);
        restoresOrPhalanxError(encode(value));
      }),
      { numRuns: 1000 },
    );
  });

  it("a valid snapshot with one byte changed: a valid machine or PhalanxError", () => {
    fc.assert(
      fc.property(
        fc.array(opArb, { maxLength: 30 }),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (ops, at, x) => {
          const m = new KvStateMachine();
          for (const op of ops) m.apply(op);
          const snap = new Uint8Array(m.snapshot());
          const i = at % snap.length;
          snap[i] = (snap[i] as number) ^ x;
          restoresOrPhalanxError(snap);
        },
      ),
      { numRuns: 1000 },
    );
  });
});
